"""MediPrima consultation (ConsultCarmedIntervention) and the transition rule (domain-rules 8).

Plain data in, plain data out: the codec turns the request into a `ConsultQuery`; the rules look
the beneficiary up, pick the CPAS decisions that overlap the asked period, and say which answer
the registry gives (found, none, expired, suspended) and whether the caller gets an agreement
number. No catalogue of consultation reason codes was found: the codes below are ours [A].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from simulator.domain.cpas import (
    MEDIPRIMA_GP_OPEN,
    MEDIPRIMA_GP_START,
    MEDIPRIMA_MANDATORY,
    MEDIPRIMA_TRANSITION_END,
    CareKind,
    CpasDecision,
)
from simulator.domain.identifiers import is_valid_niss

if TYPE_CHECKING:
    from simulator.domain.population import Patient, Population

SUCCESS = "urn:be:fgov:ehealth:2.0:status:Success"
DATA_NOT_FOUND = "urn:be:fgov:ehealth:2.0:status:DataNotFound"
REQUESTER = "urn:be:fgov:ehealth:2.0:status:Requester"  # the caller sent something wrong
SOURCE = "MediPrima"


class Severity(StrEnum):
    INFORMATION = "INFORMATION"
    WARNING = "WARNING"
    ERROR = "ERROR"


@dataclass(frozen=True)
class RegistryMessage:
    """One MedicalCardRegistryMessage (consultation) or UMA ErrorDetail: code and FR/NL texts."""

    code: str
    severity: Severity
    fr: str
    nl: str


# Reason codes of the simulated registry [A]: named after what they mean.
_MESSAGES: dict[str, tuple[Severity, str, str]] = {
    "INVALID_SSIN": (
        Severity.ERROR,
        "Le NISS {0} n'est pas un numéro valide.",
        "Het INSZ {0} is geen geldig nummer.",
    ),
    "INVALID_PERIOD": (
        Severity.ERROR,
        "La période demandée est invalide : la date de fin {1} précède la date de début {0}.",
        "De gevraagde periode is ongeldig: de einddatum {1} ligt vóór de begindatum {0}.",
    ),
    "NO_DECISION": (
        Severity.INFORMATION,
        "Le bénéficiaire {0} ne possède aucune décision de prise en charge médicale.",
        "De begunstigde {0} bezit geen enkele beslissing tot medische tenlasteneming.",
    ),
    "NO_ACTIVE_DECISION": (
        Severity.INFORMATION,
        "Le bénéficiaire {0} ne possède pas de décision de prise en charge médicale pour la "
        "période demandée ; la dernière a pris fin le {1}.",
        "De begunstigde {0} bezit geen beslissing tot medische tenlasteneming voor de gevraagde "
        "periode; de laatste eindigde op {1}.",
    ),
    "DECISION_SUSPENDED": (
        Severity.WARNING,
        "La décision de prise en charge {0} est suspendue : aucun numéro d'accord ne peut être "
        "attribué. Contactez le CPAS responsable.",
        "De beslissing tot tenlasteneming {0} is geschorst: er kan geen akkoordnummer worden "
        "toegekend. Neem contact op met het bevoegde OCMW.",
    ),
    "NOT_IN_PROVIDER_LIST": (
        Severity.WARNING,
        "Vous n'êtes pas cité dans la liste des médecins de la décision {0} : aucun numéro "
        "d'accord ne peut vous être attribué.",
        "U staat niet op de lijst van artsen van de beslissing {0}: er kan u geen akkoordnummer "
        "worden toegekend.",
    ),
    "OLD_PATH": (
        Severity.INFORMATION,
        "La décision {0} a été prise avant le {1} : les soins peuvent toujours être facturés "
        "directement au CPAS.",
        "De beslissing {0} werd vóór {1} genomen: de zorg mag nog steeds rechtstreeks aan het "
        "OCMW worden gefactureerd.",
    ),
    "TRANSITION": (
        Severity.INFORMATION,
        "Jusqu'au {1}, les soins couverts par la décision {0} peuvent encore être facturés au "
        "CPAS ; à partir du {2}, la facturation via MediPrima est obligatoire.",
        "Tot {1} mag de zorg gedekt door de beslissing {0} nog aan het OCMW worden "
        "gefactureerd; vanaf {2} is facturatie via MediPrima verplicht.",
    ),
    "BEFORE_MEDIPRIMA": (
        Severity.WARNING,
        "Les soins prodigués avant le {1} ne peuvent être facturés par le système MediPrima "
        "(décision {0}) : envoyez la facture au CPAS.",
        "Zorg verstrekt vóór {1} kan niet via MediPrima worden gefactureerd (beslissing {0}): "
        "stuur de factuur naar het OCMW.",
    ),
    "NO_DOCTOR_COVER": (
        Severity.WARNING,
        "La décision {0} ne couvre pas les soins de médecin.",
        "De beslissing {0} dekt geen artsenzorg.",
    ),
    "DOCTOR_COVER_INACTIVE": (
        Severity.WARNING,
        "La couverture médecin de la décision {0} n'est pas active le {1}.",
        "De dekking arts van de beslissing {0} is niet actief op {1}.",
    ),
    "URGENT_MEDICAL_AID_ATTESTATION_REQUIRED": (
        Severity.INFORMATION,
        "La décision {0} ne couvre que l'aide médicale urgente : une attestation AMU est requise.",
        "De beslissing {0} dekt enkel dringende medische hulp: een DMH-attest is vereist.",
    ),
}


def message(code: str, *arguments: object) -> RegistryMessage:
    """The registry message `code` with its {n} placeholders filled in (KeyError if unknown)."""
    severity, fr, nl = _MESSAGES[code]
    return RegistryMessage(code, severity, fr.format(*arguments), nl.format(*arguments))


@dataclass(frozen=True)
class ConsultQuery:
    ssin: str
    start: date  # Period/StartDate, or the ReferenceDate
    end: date  # Period/EndDate, or the ReferenceDate
    provider_nihii: str | None = None  # the caller, from its token: who would get an agreement


@dataclass(frozen=True)
class CarmedResult:
    decision: CpasDecision
    agreement: bool  # the caller gets an AgreementNumber (payment guarantee) for this decision
    uma_attestation: str | None  # UrgentMedicalAidAttestationNumber (v2)


@dataclass(frozen=True)
class ConsultAnswer:
    status: str  # StatusCode/@Value
    patient: Patient | None
    results: tuple[CarmedResult, ...] = ()
    messages: tuple[RegistryMessage, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.results)


def consult_carmed(
    query: ConsultQuery,
    population: Population,
    today: date,
    uma_attestations: Sequence[tuple[str, date, date | None]] = (),
) -> ConsultAnswer:
    """The CPAS decisions of `query.ssin` that overlap [start, end], or why there are none.

    `uma_attestations` are (number, start, end) of the urgent-medical-aid attestations doctors
    sent for this beneficiary through the UMA service.
    """
    ssin = query.ssin.strip()
    if not (len(ssin) == 11 and ssin.isdigit() and is_valid_niss(ssin, today=today)):
        return ConsultAnswer(REQUESTER, None, messages=(message("INVALID_SSIN", ssin),))
    if query.end < query.start:
        return ConsultAnswer(
            REQUESTER, None, messages=(message("INVALID_PERIOD", query.start, query.end),)
        )
    patient = population.find(ssin)
    if patient is None or not patient.cpas_decisions:
        return ConsultAnswer(DATA_NOT_FOUND, patient, messages=(message("NO_DECISION", ssin),))
    overlapping = [d for d in patient.cpas_decisions if _overlaps(d, query.start, query.end)]
    if not overlapping:
        last = max((d.end for d in patient.cpas_decisions if d.end is not None), default=None)
        return ConsultAnswer(
            DATA_NOT_FOUND, patient, messages=(message("NO_ACTIVE_DECISION", ssin, last),)
        )
    results: list[CarmedResult] = []
    messages: list[RegistryMessage] = []
    for decision in overlapping:
        # Judge the decision on the first asked day it is valid.
        day = max(query.start, decision.start)
        refusal = _no_agreement(decision, day, query.provider_nihii)
        if refusal is not None:
            messages.append(refusal)
        else:
            messages.extend(_route_notice(decision, day))
        attestation = uma_attestation_for(decision, query.start, query.end, uma_attestations)
        if decision.medical_urgency and attestation is None:
            messages.append(
                message("URGENT_MEDICAL_AID_ATTESTATION_REQUIRED", decision.carmed_number)
            )
        results.append(CarmedResult(decision, refusal is None, attestation))
    return ConsultAnswer(SUCCESS, patient, tuple(results), tuple(messages))


def _no_agreement(
    decision: CpasDecision, day: date, provider_nihii: str | None
) -> RegistryMessage | None:
    """Why the caller gets no AgreementNumber for `decision` on `day`, or None if it does."""
    number = decision.carmed_number
    if not decision.active_on(day):
        return message("DECISION_SUSPENDED", number)
    if day < MEDIPRIMA_GP_OPEN:  # GPs bill MediPrima since 1 Oct 2017 only (docs/rules.md)
        return message("BEFORE_MEDIPRIMA", number, _dmy(MEDIPRIMA_GP_OPEN))
    cover = decision.cover(CareKind.DOCTOR)
    if cover is None:
        return message("NO_DOCTOR_COVER", number)
    if not cover.covers(day):
        return message("DOCTOR_COVER_INACTIVE", number, day)
    if provider_nihii and not decision.allows_provider(CareKind.DOCTOR, provider_nihii):
        return message("NOT_IN_PROVIDER_LIST", number)
    return None


def _route_notice(decision: CpasDecision, day: date) -> tuple[RegistryMessage, ...]:
    """Where else the GP may bill care of `day` (docs/rules.md, "MediPrima dates"): the CPAS
    for a decision taken before 1 Sep 2025 (for good) or until 31 Oct 2025 (transition)."""
    route = billing_route(decision, day)
    if route is not BillingRoute.CPAS_OR_MEDIPRIMA:
        return ()
    number = decision.carmed_number
    if decision.old_path:
        return (message("OLD_PATH", number, _dmy(MEDIPRIMA_GP_START)),)
    return (
        message("TRANSITION", number, _dmy(MEDIPRIMA_TRANSITION_END), _dmy(MEDIPRIMA_MANDATORY)),
    )


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def uma_attestation_for(
    decision: CpasDecision,
    start: date,
    end: date,
    attestations: Sequence[tuple[str, date, date | None]],
) -> str | None:
    """The AMU attestation that links to `decision` for [start, end]: the one the population
    already holds, else the latest one sent through UMA that overlaps the period."""
    if not decision.medical_urgency:
        return None
    if decision.uma_attestation is not None:
        return decision.uma_attestation
    matching = [
        number
        for number, first, last in attestations
        if first <= end and (last is None or start <= last)
    ]
    return max(matching) if matching else None


def _overlaps(decision: CpasDecision, start: date, end: date) -> bool:
    return decision.start <= end and (decision.end is None or start <= decision.end)


# --- the transition rule (domain-rules 8.1) ---------------------------------------------------


class BillingRoute(StrEnum):
    """Where a GP sends the invoice for care under a CPAS decision."""

    CPAS = "cpas"  # before GPs could use MediPrima: the CPAS only; MediPrima refuses it (205)
    CPAS_OR_MEDIPRIMA = "cpas-or-mediprima"  # both are accepted
    MEDIPRIMA = "mediprima"  # MediPrima is mandatory


def mediprima_start(decision: CpasDecision) -> date:
    """First day of care MediPrima takes under this decision: GPs could bill MediPrima since
    1 Oct 2017 (S-MEDIPRIMA history; docs/rules.md)."""
    return max(decision.start, MEDIPRIMA_GP_OPEN)


def billing_route(decision: CpasDecision, care_day: date) -> BillingRoute:
    """The transition rule (docs/rules.md, "MediPrima dates"): MediPrima takes GP care since
    1 Oct 2017; a decision taken before 1 Sep 2025 may stay on the old path (bill the CPAS) for
    good; for the others the CPAS may be billed until 31 Oct 2025, MediPrima is mandatory
    from 1 Nov 2025."""
    if care_day < mediprima_start(decision):  # before the decision, or before 1 Oct 2017
        return BillingRoute.CPAS
    if decision.old_path or care_day < MEDIPRIMA_MANDATORY:
        return BillingRoute.CPAS_OR_MEDIPRIMA
    return BillingRoute.MEDIPRIMA


def patient_decision(patient: Patient, day: date) -> CpasDecision | None:
    """The decision that applies on `day`: the valid one, else the latest that started before."""
    valid = patient.decision_on(day)
    if valid is not None:
        return valid
    started = [d for d in patient.cpas_decisions if d.start <= day]
    return max(started, key=lambda d: d.start) if started else None
