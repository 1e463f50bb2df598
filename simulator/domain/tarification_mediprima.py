"""CAAMI tarification (`tariffmediprima`): who pays what for a patient under a CPAS decision.

The request is the eTar one (same `TarificationQuery`), so the request, author and date checks
are eTar's; then MediPrima's own rejections (catalogue `etar-mediprima`, docs/rules.md
"CAAMI tarification"): 200 deceased, 201 no active decision, 202 no decision, 203 suspended,
204 provider not listed, 205 care before 1 Oct 2017 (GPs could not bill MediPrima yet), 206
cover not active, 207 no such cover, 183 age, 196 code no longer attestable, and 208 (the
simulator's own code: no catalogue has one) urgent medical aid only without an AMU attestation.
Accepted codes are split into the State part (SPP IS, `reimbursement-fpssi`), the CPAS part
(`reimbursement-pswc`) and the patient's part.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from simulator.domain import nomenclature
from simulator.domain.catalogue import ErrorCatalogue, rule_error
from simulator.domain.cpas import MEDIPRIMA_GP_OPEN, CareKind, Cover, CpasDecision, Support
from simulator.domain.mediprima import (
    BillingRoute,
    billing_route,
    patient_decision,
    uma_attestation_for,
)
from simulator.domain.tarification import (
    CLAIM,
    CLAIM_CD,
    ENCOUNTER_DATE,
    TRANSACTION_CD,
    ErrorCollector,
    RuleError,
    TarificationQuery,
    check_author,
    check_claim_code,
    check_encounter,
    check_patient_ssin,
    check_request_id,
)

if TYPE_CHECKING:
    from simulator.domain.population import Patient, Population

# eTar's own request checks (request id, author, encounter date) are reused as they are: same
# request, same codes and paths in both catalogues.

CATALOGUE = "etar-mediprima"
TRANSACTION = "tariffmediprima"
PATIENT = "/RetrieveTransactionRequest/select/patient"
TRANSACTION_AUTHOR = "/RetrieveTransactionRequest/select/transaction[tariff]/author"
CENT = Decimal("0.01")
# Codes MediPrima stops accepting after a date (196). The acquired-rights GP consultation is our
# example of a code that can no longer be attested [A].
ATTESTABLE_UNTIL: dict[str, date] = {"101010": date(2025, 12, 31)}
# Names of the covers as the 204/206/207 texts quote them.
_COVER_NAMES = {CareKind.DOCTOR: ("Médecin", "Arts")}
_PLACEHOLDER = re.compile(r"\{(\d)\}")
# CAAMI must check the AMU attestation before paying (S-MEDIPRIMA) but no catalogue has a code
# for its absence (domain-rules 11.10): the simulator's own, next to 200-207 [A].
NO_UMA_ATTESTATION = "208"
_OWN: dict[str, tuple[str, str]] = {
    NO_UMA_ATTESTATION: (
        "La décision {0} ne couvre que l'aide médicale urgente et aucune attestation d'aide "
        "médicale urgente ne couvre le {1}. Envoyez d'abord l'attestation (MediPrima UMA).",
        "De beslissing {0} dekt enkel dringende medische hulp en geen enkel DMH-attest dekt "
        "{1}. Stuur eerst het attest (MediPrima UMA).",
    ),
}
AmuAttestations = Sequence[tuple[str, date, date | None]]  # (number, start, end) sent via UMA


@dataclass(frozen=True)
class MediprimaLine:
    code: str
    fee: Decimal  # official fee
    reimbursement_fpssi: Decimal  # the State's part (SPP IS), paid by CAAMI
    reimbursement_pswc: Decimal  # the CPAS's part
    patient_fee: Decimal  # what the patient pays
    approximate: bool  # the fee comes from an approximate table
    financial_contract: str = ""  # payment-commitment number, assigned by the service


@dataclass(frozen=True)
class MediprimaOutcome:
    errors: tuple[RuleError, ...] = ()
    lines: tuple[MediprimaLine, ...] = ()
    patient: Patient | None = None
    decision: CpasDecision | None = None
    route: BillingRoute | None = None  # the transition rule's verdict for this care day

    @property
    def accepted(self) -> bool:
        return not self.errors

    @property
    def urgent_medical_care(self) -> bool:
        return self.decision is not None and self.decision.medical_urgency


class _Rejections(ErrorCollector):
    """eTar's collector, with the MediPrima catalogue and its {n} / <DATE> placeholders."""

    def __init__(self) -> None:
        super().__init__()
        self.arguments: dict[tuple[str, str], tuple[str, ...]] = {}

    def add(self, code: str, path: str, *arguments: str) -> None:
        super().add(code, path)
        self.arguments.setdefault((code, path), arguments)

    def result(self) -> tuple[RuleError, ...]:
        catalogue = ErrorCatalogue.load(CATALOGUE)
        last = len(catalogue.entries)  # own codes after the catalogue's
        ordered = sorted(
            self.found, key=lambda pair: last if pair[0] in _OWN else catalogue.order(*pair)
        )
        return tuple(self._filled(code, path) for code, path in ordered)

    def _filled(self, code: str, path: str) -> RuleError:
        arguments = self.arguments.get((code, path), ())
        if code in _OWN:
            fr, nl = _OWN[code]
            return RuleError(code, path, fill(fr, arguments), fill(nl, arguments))
        error = rule_error(CATALOGUE, code, path)
        return RuleError(
            error.code,
            error.path,
            fill(error.message_fr, arguments),
            fill(error.message_nl, arguments),
        )


def fill(text: str, arguments: tuple[str, ...]) -> str:
    """The catalogue's MessageFormat text with {n} and <DATE> filled in and '' unescaped."""

    def argument(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return arguments[index] if index < len(arguments) else match.group(0)

    text = _PLACEHOLDER.sub(argument, text.replace("''", "'"))
    return text.replace("<DATE>", arguments[0]) if "<DATE>" in text and arguments else text


def _day(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def consult_mediprima_tariff(
    query: TarificationQuery,
    population: Population,
    today: date,
    uma_attestations: AmuAttestations = (),
) -> MediprimaOutcome:
    """Answer one CAAMI tarification: every rejection (catalogue order) or one line per code.

    `uma_attestations` are the patient's AMU attestations stored by the UMA service."""
    errors = _Rejections()
    check_request_id(query, errors)
    kind = check_author(query, population, errors)
    if query.transaction_type is None:
        errors.add("100", TRANSACTION_CD)
    elif query.transaction_type != TRANSACTION:
        errors.add("130", TRANSACTION_CD)
    patient = _patient(query, population, today, errors)
    day = check_encounter(query, patient, today, errors)
    if not query.claims:
        errors.add("100", CLAIM)
    for claim in query.claims:
        _claim(claim.code.strip(), kind, patient, day, errors)
    if errors.found or day is None or kind is None:
        return MediprimaOutcome(errors=errors.result(), patient=patient)

    decision = _decision(query, patient, day, errors, uma_attestations)
    route = billing_route(decision, day) if decision is not None else None
    if errors.found or patient is None or decision is None:
        return MediprimaOutcome(errors.result(), patient=patient, decision=decision, route=route)
    cover = decision.cover(CareKind.DOCTOR)
    assert cover is not None  # _decision rejected the decision otherwise (207)
    lines = tuple(
        _line(claim.code.strip(), patient, kind, day, decision, cover) for claim in query.claims
    )
    return MediprimaOutcome(lines=lines, patient=patient, decision=decision, route=route)


def _patient(
    query: TarificationQuery, population: Population, today: date, errors: _Rejections
) -> Patient | None:
    ssin = check_patient_ssin(query, today, errors)
    # An unknown NISS is not an error of its own: MediPrima simply holds no decision (202).
    return population.find(ssin) if ssin is not None else None


def _claim(
    code: str, kind: str | None, patient: Patient | None, day: date | None, errors: _Rejections
) -> None:
    # MediPrima's own code for an age-bound code is 183.
    entry = check_claim_code(code, kind, patient, day, errors, too_old="183")
    if entry is None:
        return
    last = ATTESTABLE_UNTIL.get(entry.code)
    if last is not None and day is not None and day > last:
        errors.add("196", CLAIM_CD)


def _decision(
    query: TarificationQuery,
    patient: Patient | None,
    day: date,
    errors: _Rejections,
    uma_attestations: AmuAttestations = (),
) -> CpasDecision | None:
    """The decision the care falls under, after MediPrima's patient and cover rejections."""
    ssin = query.patient_ssin or ""
    if patient is not None and patient.death_date is not None and patient.death_date <= day:
        errors.add("200", PATIENT)
        return None
    if patient is None or not patient.cpas_decisions:
        errors.add("202", PATIENT, ssin)
        return None
    decision = patient_decision(patient, day)
    if decision is None or not decision.valid_on(day):
        errors.add("201", PATIENT, ssin)
        return decision
    # Not the old path: a decision taken before 1 Sep 2025 may be billed either way; only care
    # before GPs could use MediPrima at all is sent back to the CPAS (docs/rules.md).
    if day < MEDIPRIMA_GP_OPEN:
        errors.add("205", ENCOUNTER_DATE, _day(MEDIPRIMA_GP_OPEN))
        return decision
    if not decision.active_on(day):
        errors.add("203", PATIENT)
        return decision
    cover = decision.cover(CareKind.DOCTOR)
    fr_name, _ = _COVER_NAMES[CareKind.DOCTOR]
    if cover is None:
        errors.add("207", ENCOUNTER_DATE, fr_name, decision.carmed_number)
        return decision
    if not cover.covers(day):
        end = _day(cover.end) if cover.end is not None else "-"
        errors.add("206", ENCOUNTER_DATE, fr_name, _day(cover.start), end, decision.carmed_number)
        return decision
    author = query.author_nihii or ""
    if not decision.allows_provider(CareKind.DOCTOR, author):
        errors.add("204", TRANSACTION_AUTHOR, fr_name, decision.carmed_number)
        return decision
    attested = uma_attestation_for(decision, day, day, uma_attestations)
    if decision.medical_urgency and attested is None:
        # CAAMI checks the AMU attestation exists before it prices urgent aid (S-MEDIPRIMA).
        errors.add(NO_UMA_ATTESTATION, PATIENT, decision.carmed_number, _day(day))
    return decision


def _line(
    code: str, patient: Patient, kind: str, day: date, decision: CpasDecision, cover: Cover
) -> MediprimaLine:
    price = nomenclature.price(code, patient, kind, day, dmg_with_author=False)
    state, cpas, own = split(price.reimbursement, price.patient_fee, decision.state_refund, cover)
    return MediprimaLine(code, price.fee, state, cpas, own, price.approximate)


def split(
    insurance_part: Decimal, patient_part: Decimal, state_refund: int, cover: Cover
) -> tuple[Decimal, Decimal, Decimal]:
    """(State, CPAS, patient) shares of one act; they always add up to the fee [I/A].

    The State (SPP IS) refunds `state_refund` % of both the part health insurance would pay and
    the ticket modérateur (RefundCode, "Other" = care outside hospital). What is left of each
    goes to the CPAS as far as its support reaches (FULL all, PARTIAL half, or the patient pays
    up to AmountPatientPartMax), the rest to the patient.
    """
    rate = Decimal(state_refund) / 100
    state_insurance = _cents(insurance_part * rate)
    state_patient = _cents(patient_part * rate)
    cpas_insurance = _supported(insurance_part - state_insurance, cover.ziv_ami_part, None)
    cpas_patient = _supported(
        patient_part - state_patient, cover.patient_part, cover.patient_part_max
    )
    state = state_insurance + state_patient
    cpas = cpas_insurance + cpas_patient
    return state, cpas, insurance_part + patient_part - state - cpas


def _supported(rest: Decimal, support: Support, patient_max: Decimal | None) -> Decimal:
    """The CPAS's share of `rest` under `support`."""
    if support is Support.FULL:
        return rest
    if support is Support.NOTHING:
        return Decimal("0.00")
    if patient_max is not None:  # the patient pays up to the ceiling, the CPAS the remainder
        return max(rest - patient_max, Decimal("0.00"))
    return _cents(rest / 2)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)
