"""eTar: the insurer's answer to a tarification consultation (domain-rules section 4).

Plain data in, plain data out. The codec turns the KMEHR RetrieveTransactionRequest into a
`TarificationQuery` (strings exactly as read, None when absent); the rules here validate them,
look the patient up in the population, and price each claimed code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from simulator.domain import nomenclature
from simulator.domain.calendar import months_before
from simulator.domain.catalogue import ErrorCatalogue, rule_error
from simulator.domain.identifiers import (
    is_valid_nihii,
    is_valid_niss,
    is_valid_nomenclature_code,
    nihii_profession,
    same_person,
)

if TYPE_CHECKING:
    from simulator.domain.population import Patient, Population


@dataclass(frozen=True)
class TariffClaim:
    code: str  # nomenclature code as sent (CD-NIHDI), not yet validated
    tooth: str | None = None  # CD-ISO-3950, dentists
    related_service: str | None = None  # CD-NIHDI-RELATEDSERVICE


@dataclass(frozen=True)
class TarificationQuery:
    request_id: str | None  # request/id S=ID-KMEHR: "<nihii11>.<timestamp>"
    author_nihii: str | None  # request/author/hcparty/id S=ID-HCPARTY
    author_type: str | None  # CD-HCPARTY: persphysician | persdentist | guardpost
    patient_ssin: str | None  # select/patient/id S=ID-PATIENT
    encounter_date: str | None  # item[encounterdatetime]/content/date, as sent (ISO date)
    claims: tuple[TariffClaim, ...]
    gmd_manager_nihii: str | None = None  # item[gmdmanager]/content/hcparty/id
    justification: str | None = None  # CD-MYCARENET-JUSTIFICATION
    transaction_type: str | None = "tariff"  # CD-TRANSACTION-MYCARENET
    # NIHII of the CareProvider in the SOAP CommonInput and SSIN routing, to check coherence (155)
    envelope_provider_nihii: str | None = None
    envelope_patient_ssin: str | None = None


@dataclass(frozen=True)
class RuleError:
    """One CD-ERROR-MYCARENET error: its code, the catalogue path it is about, FR/NL texts."""

    code: str
    path: str
    message_fr: str
    message_nl: str


@dataclass(frozen=True)
class TariffLine:
    code: str
    fee: Decimal  # official fee
    reimbursement: Decimal  # insurer's part
    patient_fee: Decimal  # personal share (ticket modérateur)
    approximate: bool  # the amounts come from an approximate table (domain-rules 7)
    financial_contract: str = ""  # payment-commitment number, assigned by the service


@dataclass(frozen=True)
class TarificationOutcome:
    errors: tuple[RuleError, ...] = ()
    lines: tuple[TariffLine, ...] = ()
    patient: Patient | None = None  # the patient the answer is about, when known
    insurer: str | None = None  # 3-digit union code of the answering insurer
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return not self.errors


# --- the rules (domain-rules section 4) -------------------------------------------------------

CATALOGUE = "etar"
_R = "/RetrieveTransactionRequest"
_TX = f"{_R}/select/transaction[tariff]"
REQUEST_ID = f"{_R}/Request/id"
AUTHOR = f"{_R}/Request/author/hcparty"
AUTHOR_ID = f"{AUTHOR}/id"
PATIENT_ID = f"{_R}/select/patient/id"
TRANSACTION_CD = f"{_TX}/cd[CD-TRANSACTION-MYCARENET]"
ENCOUNTER = f"{_TX}/item[encounterdatetime]"
ENCOUNTER_DATE = f"{ENCOUNTER}/content/date"
CLAIM = f"{_TX}/item[claim]"
CLAIM_CD = f"{CLAIM}/content/cd[CD-NIHDI]"
JUSTIFICATION_CD = f"{_TX}/item[justification]/content/cd[CD-MYCARENET-JUSTIFICATION]"
GMD_MANAGER_ID = f"{_TX}/item[gmdmanager]/content/hcparty/id"

# "<nihii11>.<timestamp>"; real timestamps are 14 digits (yyyyMMddHHmmss or yyMMddHHmmssSS).
_REQUEST_ID = re.compile(r"(\d{11})\.(\d{6,20})")
_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?")
_JUSTIFICATION_FORMAT = re.compile(r"[A-Z]{3}\d{3}")
# CD-MYCARENET-JUSTIFICATION values (kmehr cd-1_34.xsd).
JUSTIFICATIONS = frozenset(
    {"NMF001", "NMF002", "NMF011", "NMF012", "NMF013", "NMF021", "NMF022", "NMF031", "NMF040"}
)
# CD-ISO-3950 tooth numbers: permanent 11-48, deciduous 51-85.
_TEETH = frozenset(f"{q}{n}" for q in "1234" for n in "12345678") | frozenset(
    f"{q}{n}" for q in "5678" for n in "12345"
)
# eTar is open to GPs and dentists (domain-rules 4); author type -> required profession.
ETAR_KINDS = frozenset({"GP", "DENTIST"})
_AUTHOR_TYPES = {"persphysician": "PHYSICIAN", "persdentist": "DENTIST", "guardpost": "PHYSICIAN"}
OLDEST_ENCOUNTER_MONTHS = 2


def _parse_date(text: str) -> date | None:
    match = _ISO_DATE.fullmatch(text.strip())
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


class ErrorCollector:
    """Collects (code, path) pairs once each; sorted into catalogue order at the end."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str], None] = {}

    def add(self, code: str, path: str) -> None:
        self.found.setdefault((code, path), None)

    def result(self) -> tuple[RuleError, ...]:
        catalogue = ErrorCatalogue.load(CATALOGUE)
        ordered = sorted(self.found, key=lambda pair: catalogue.order(*pair))
        return tuple(rule_error(CATALOGUE, code, path) for code, path in ordered)


def check_author(
    query: TarificationQuery, population: Population, errors: ErrorCollector
) -> str | None:
    """Validate the author; returns its provider kind when it may use eTar."""
    author = query.author_nihii
    if not author:
        errors.add("100", AUTHOR)
        return None
    if not is_valid_nihii(author):
        errors.add("111", AUTHOR_ID)
        return None
    if query.envelope_provider_nihii and query.envelope_provider_nihii != author:
        errors.add("155", AUTHOR_ID)
    profession = nihii_profession(author)
    if profession is None:  # check digits right but no such profession: nobody the OA knows
        errors.add("141", AUTHOR_ID)
        return None
    provider = population.provider(author)
    # Walk-in: a valid NIHII outside the population is a GP or a dentist by its profession digit.
    kind = provider.kind if provider else {"PHYSICIAN": "GP", "DENTIST": "DENTIST"}.get(profession)
    wanted = _AUTHOR_TYPES.get(query.author_type or "")
    if kind not in ETAR_KINDS or (query.author_type is not None and wanted != profession):
        errors.add("140", AUTHOR_ID)
        return None
    return kind


def check_request_id(query: TarificationQuery, errors: ErrorCollector) -> None:
    if not query.request_id:
        errors.add("100", REQUEST_ID)
        return
    match = _REQUEST_ID.fullmatch(query.request_id)
    if match is None:
        errors.add("111", REQUEST_ID)
    elif query.author_nihii and match.group(1) != query.author_nihii:
        errors.add("155", REQUEST_ID)


def check_patient_ssin(query: TarificationQuery, today: date, errors: ErrorCollector) -> str | None:
    """The patient's NISS when it is present and well formed (100/111/112; 155 vs routing)."""
    ssin = query.patient_ssin
    if not ssin:
        errors.add("100", PATIENT_ID)
        return None
    if len(ssin) != 11 or not ssin.isdigit():
        errors.add("111", PATIENT_ID)
        return None
    if not is_valid_niss(ssin, today=today):
        errors.add("112", PATIENT_ID)
        return None
    if query.envelope_patient_ssin and query.envelope_patient_ssin != ssin:
        errors.add("155", PATIENT_ID)
    return ssin


def _patient(
    query: TarificationQuery, population: Population, today: date, errors: ErrorCollector
) -> Patient | None:
    ssin = check_patient_ssin(query, today, errors)
    if ssin is None:
        return None
    patient = population.find(ssin)
    if patient is None:
        errors.add("120", PATIENT_ID)
    return patient


def check_encounter(
    query: TarificationQuery, patient: Patient | None, today: date, errors: ErrorCollector
) -> date | None:
    if not query.encounter_date:
        errors.add("100", ENCOUNTER)
        return None
    day = _parse_date(query.encounter_date)
    if day is None:
        errors.add("111", ENCOUNTER_DATE)
        return None
    if day.year < 1900 or (patient is not None and day < patient.birth_date):
        errors.add("113", ENCOUNTER_DATE)
    elif day > today:
        errors.add("146", ENCOUNTER_DATE)
    elif day < months_before(today, OLDEST_ENCOUNTER_MONTHS):
        errors.add("166", ENCOUNTER_DATE)
    else:
        return day
    return None


def _insurability(patient: Patient, day: date, errors: ErrorCollector) -> None:
    period = patient.period_on(day)
    if period is None or (patient.death_date is not None and day > patient.death_date):
        errors.add("120", PATIENT_ID)
    elif not period.in_order:
        errors.add("170", PATIENT_ID)


def check_claim_code(
    code: str,
    kind: str | None,
    patient: Patient | None,
    day: date | None,
    errors: ErrorCollector,
    *,
    too_old: str,
) -> nomenclature.NomenclatureEntry | None:
    """The checks of one claimed code that eTar and CAAMI tarification share (111, 130, 171,
    172/175, and `too_old` for an age-bound code); the table entry when the code is known."""
    if not is_valid_nomenclature_code(code):
        errors.add("111", CLAIM_CD)
        return None
    entry = nomenclature.lookup(code)
    if entry is None:
        errors.add("130", CLAIM_CD)
        return None
    if kind is not None and kind not in entry.kinds:
        errors.add("171", CLAIM_CD)
    if not entry.in_efact:
        errors.add("172", CLAIM_CD)
    elif not entry.in_etar:
        errors.add("175", CLAIM_CD)
    if (
        entry.max_age is not None
        and patient is not None
        and day is not None
        and patient.age_on(day) >= entry.max_age
    ):
        errors.add(too_old, CLAIM_CD)
    return entry


def _claim(
    claim: TariffClaim,
    kind: str | None,
    patient: Patient | None,
    day: date | None,
    errors: ErrorCollector,
) -> None:
    # An age-bound code for an older patient is a 130 in eTar [A].
    entry = check_claim_code(claim.code.strip(), kind, patient, day, errors, too_old="130")
    if entry is None:
        return
    if (
        patient is not None
        and patient.medical_house
        and (entry.category in nomenclature.MEDICAL_HOUSE_COVERED)
    ):
        errors.add("169", CLAIM_CD)
    if claim.tooth is not None:
        if len(claim.tooth) != 2 or not claim.tooth.isdigit():
            errors.add("111", CLAIM)
        elif claim.tooth not in _TEETH:
            errors.add("130", CLAIM)
        else:  # none of the codes in our table is tooth-bound
            errors.add("186", CLAIM)
    if claim.related_service is not None:
        errors.add("185", CLAIM)


def _optional_items(
    query: TarificationQuery, patient: Patient | None, errors: ErrorCollector
) -> None:
    if query.justification is not None:
        if not _JUSTIFICATION_FORMAT.fullmatch(query.justification):
            errors.add("111", JUSTIFICATION_CD)
        elif query.justification not in JUSTIFICATIONS:
            errors.add("130", JUSTIFICATION_CD)
    manager = query.gmd_manager_nihii
    if manager is None:
        return
    if not is_valid_nihii(manager):
        errors.add("111", GMD_MANAGER_ID)
    elif query.author_nihii and same_person(manager, query.author_nihii):
        errors.add("174", GMD_MANAGER_ID)  # the G notion needs a holder other than the author
    elif patient is not None and not (
        patient.dmg_holder and same_person(patient.dmg_holder, manager)
    ):
        errors.add("167", GMD_MANAGER_ID)


def _dmg_applies(query: TarificationQuery, patient: Patient) -> bool:
    """The DMG share applies when the holder is the author or the colleague named gmdmanager."""
    holder = patient.dmg_holder
    if holder is None:
        return False
    return any(
        nihii is not None and same_person(holder, nihii)
        for nihii in (query.author_nihii, query.gmd_manager_nihii)
    )


def consult_tariff(
    query: TarificationQuery, population: Population, today: date
) -> TarificationOutcome:
    """Answer one eTar consultation: every error found (catalogue order) or one line per claim."""
    errors = ErrorCollector()
    check_request_id(query, errors)
    kind = check_author(query, population, errors)
    if query.transaction_type is None:
        errors.add("100", TRANSACTION_CD)
    elif query.transaction_type != "tariff":
        errors.add("130", TRANSACTION_CD)
    patient = _patient(query, population, today, errors)
    day = check_encounter(query, patient, today, errors)
    if patient is not None and day is not None:
        _insurability(patient, day, errors)
    if not query.claims:
        errors.add("100", CLAIM)
    for claim in query.claims:
        _claim(claim, kind, patient, day, errors)
    _optional_items(query, patient, errors)

    insurer = patient.insurer if patient is not None else None
    if errors.found or patient is None or day is None or kind is None:
        return TarificationOutcome(errors=errors.result(), patient=patient, insurer=insurer)
    dmg = _dmg_applies(query, patient)
    lines = []
    for claim in query.claims:
        cost = nomenclature.price(claim.code.strip(), patient, kind, day, dmg)
        lines.append(
            TariffLine(
                claim.code.strip(), cost.fee, cost.reimbursement, cost.patient_fee, cost.approximate
            )
        )
    return TarificationOutcome(lines=tuple(lines), patient=patient, insurer=insurer)
