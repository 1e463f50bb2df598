"""eAttest v3: the insurer's decision on an attestation and on its cancellation (domain-rules 5).

Plain data in, plain data out. The codec turns the KMEHR SendTransactionRequest into an
`AttestationQuery` or a `CancellationQuery` (strings as read, None when absent); the rules here
validate them against the population, the simulator's `today` and what the insurer already
accepted for the patient (its ledger of attested and billed services, judged by
`ledger_rules`: a duplicate is the same code, day and provider, unless the claim declares a
distinct contact). Errors are CD-ERROR-MYCARENET codes with the
texts of the `eattest` catalogue, in catalogue order. Accepted attestations get an invoicing
number (domain-rules 2.8) and the official fee of each code, whatever amount the client sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from simulator.domain import ledger_rules, nomenclature
from simulator.domain.catalogue import ErrorCatalogue
from simulator.domain.identifiers import (
    is_valid_cbe,
    is_valid_nihii,
    is_valid_niss,
    is_valid_nomenclature_code,
    nihii_profession,
    same_person,
)
from simulator.domain.ledger_rules import Channel, Finding, LedgerService
from simulator.domain.memberdata import medical_house_covers, supplement_forbidden
from simulator.domain.population import Patient, Population
from simulator.domain.tarification import RuleError

CATALOGUE = "eattest"
_R = "/SendTransactionRequest"
_FOLDER = f"{_R}/kmehrmessage/folder"
_CGA = f"{_FOLDER}/transaction[cga]"
_CGD = f"{_FOLDER}/transaction[cgd]"
_CANCEL = f"{_FOLDER}/transaction[cgacancellation]"
REQUEST_ID = f"{_R}/request/id"
AUTHOR = f"{_R}/request/author/hcparty"
AUTHOR_ID = f"{AUTHOR}/id"
PATIENT_ID = f"{_FOLDER}/patient/id"
CGA_DATE = f"{_CGA}/date"
PATIENT_PAID = f"{_CGA}/item[patientpaid]/cost/decimal"
SUPPLEMENT = f"{_CGA}/item[supplement]/cost/decimal"
RECEIVING_PARTY = f"{_CGA}/item[paymentreceivingparty]/content/id"
CLAIM = f"{_CGD}/item[claim]"
CLAIM_CD = f"{CLAIM}/content/cd[CD-NIHDI]"
QUANTITY = f"{CLAIM}/quantity/decimal"
# R50 Z23 "dérogation nombre maximal ou prestation identique" (the catalogue writes [CGD]).
EXEMPTION = f"{_FOLDER}/transaction[CGD]/item[claim]/content/cd[NIHDI-CLAIM-EXEMPTION]"
RELATED_SERVICE = f"{CLAIM}/content/cd[CD-NIHDI-RELATEDSERVICE]"
ENCOUNTER_DATE = f"{_CGD}/item[encounterdatetime]/content/date"
GMD_MANAGER_ID = f"{_CGD}/item[gmdmanager]/content/hcparty/id"
INVOICING = f"{_CANCEL}/item[invoicingnumber]"
INVOICING_TEXT = f"{INVOICING}/content/text"
REASON_CD = f"{INVOICING}/content/cd[NIHDI-CANCELLATION-REASON]"

# Who may send eAttests: GPs, specialists, dentists, physiotherapists (domain-rules 5.1).
EATTEST_KINDS = frozenset({"GP", "SPECIALIST", "DENTIST", "PHYSIOTHERAPIST"})
_PROFESSION_KIND = {"PHYSICIAN": "GP", "DENTIST": "DENTIST", "PHYSIOTHERAPIST": "PHYSIOTHERAPIST"}
# Cancellation reasons of the CIN list (HL7BE-EA): A patient error ... G eAttest not applicable.
CANCELLATION_REASONS: dict[str, str] = {
    "A": "patient error",
    "B": "provider error",
    "C": "error in one of the elements",
    "D": "duplicate",
    "E": "replaced by eFact",
    "F": "replaced by a paper attestation (ASD)",
    "G": "eAttest not applicable",
}
# The cancellation window is insurer-specific (domain-rules 1.3: INAMI says same day, MC allows
# later); the simulated insurers accept it for 14 days after the service day [A].
CANCELLATION_WINDOW = timedelta(days=14)
# Codes that cannot be attested electronically: the DMG and the medical-house flat rate (195).
_NOT_IN_EATTEST = frozenset({nomenclature.Category.DMG, nomenclature.Category.MEDICAL_HOUSE})
# Where each ledger finding is reported (its MyCareNet code: ledger_rules.EATTEST_CODES).
_FINDING_PATH = {"190": QUANTITY, "192": ENCOUNTER_DATE, "189": RELATED_SERVICE}
# What the rules call the attestation being decided, before it has a number.
PENDING = "pending"
_REQUEST_ID = re.compile(r"(\d{11})\.(\d{6,20})")
_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?")
_AMOUNT = re.compile(r"\d{1,7}(\.\d{1,2})?")
_NUMBER = re.compile(r"(\d{3})-(\d)-(\d{6})-(\d{7})-(\d{2})")
# Aliases the insurers print next to the MyCareNet code (domain-rules 5.2).
OA_ALIASES: dict[str, str] = {
    "238": "NOCRPR",
    "196": "ERR3PAY",
    "190": "502255",
    "167": "504949",
    "120": "500742",
}


@dataclass(frozen=True)
class AttestedService:
    """One `cgd` transaction: a code performed on a day, with what the client charged."""

    code: str | None  # item[claim]/content/cd[CD-NIHDI]
    quantity: str | None  # item[claim]/quantity/decimal
    encounter_date: str | None  # item[encounterdatetime]/content/date
    gmd_manager: str | None = None  # item[gmdmanager]/content/hcparty/id (DMG holder named)
    amount: str | None = None  # the fee the client put on the line, ignored for the answer
    # item[claim]/content/cd[LOCAL SL=NIHDI-CLAIM-EXEMPTION]: R50 Z23, 01 = distinct contact
    exemption: str | None = None


@dataclass(frozen=True)
class AttestationQuery:
    request_id: str | None  # request/id: "<nihii11>.<timestamp>"
    author_nihii: str | None  # request/author/hcparty/id S=ID-HCPARTY
    author_type: str | None  # CD-HCPARTY: persphysician | persdentist | ...
    patient_ssin: str | None  # folder/patient/id S=ID-PATIENT
    transaction_date: str | None  # transaction[cga]/date
    patient_paid: str | None  # cga item[patientpaid]/cost/decimal
    supplement: str | None  # cga item[supplement]/cost/decimal
    receiving_party: str | None  # cga item[paymentreceivingparty]/content/id (CBE)
    services: tuple[AttestedService, ...]
    has_cga: bool = True
    envelope_provider_nihii: str | None = None  # CommonInput CareProvider, for coherence (155)
    envelope_patient_ssin: str | None = None  # Routing/CareReceiver/Ssin


@dataclass(frozen=True)
class CancellationQuery:
    request_id: str | None
    author_nihii: str | None
    author_type: str | None
    patient_ssin: str | None
    has_invoicing_item: bool
    invoicing_number: str | None  # item[invoicingnumber]/content/text
    reason: str | None  # content/cd S=LOCAL SL=NIHDI-CANCELLATION-REASON
    envelope_provider_nihii: str | None = None
    envelope_patient_ssin: str | None = None


@dataclass(frozen=True)
class Attested:
    """An attestation the insurer issued (the service stores it; rules only read it)."""

    number: str
    patient_ssin: str
    author_nihii: str
    day: date
    codes: tuple[str, ...]
    cancelled: str | None = None  # cancellation reason, once cancelled


@dataclass(frozen=True)
class FeeLine:
    code: str
    fee: Decimal  # official fee (nomenclature), not what the client sent
    encounter_date: date
    quantity: str
    distinct: bool = False  # the claim declared a distinct contact (NIHDI-CLAIM-EXEMPTION)


@dataclass(frozen=True)
class AttestationOutcome:
    errors: tuple[RuleError, ...] = ()
    patient: Patient | None = None
    insurer: str | None = None
    day: date | None = None
    lines: tuple[FeeLine, ...] = ()

    @property
    def accepted(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class CancellationOutcome:
    errors: tuple[RuleError, ...] = ()
    attested: Attested | None = None  # the attestation cancelled, when accepted
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return not self.errors


# -- invoicing numbers (domain-rules 2.8) -------------------------------------------------------


def invoicing_number(insurer: str, day: date, sequence: int) -> str:
    """`<IO>-1-<yymmdd>-<7 digits>-<cc>`, cc = the 17 digits without dashes mod 97.

    Checked on the live numbers 500-1-260212-5960827-60 and 940-1-240130-0000001-84. What a
    zero remainder gives is unknown [U]; we print 00.
    """
    if len(insurer) != 3 or not insurer.isdigit():
        raise ValueError(f"insurer code must be 3 digits, got {insurer!r}")
    if not 0 <= sequence <= 9_999_999:
        raise ValueError(f"sequence must fit in 7 digits, got {sequence}")
    body = f"{insurer}1{day:%y%m%d}{sequence:07d}"
    return f"{insurer}-1-{day:%y%m%d}-{sequence:07d}-{int(body) % 97:02d}"


def is_valid_invoicing_number(number: str) -> bool:
    match = _NUMBER.fullmatch(number)
    if match is None:
        return False
    body = "".join(match.groups()[:4])
    return int(body) % 97 == int(match.group(5))


# -- shared checks -----------------------------------------------------------------------------


class _Errors:
    """(code, path, nth) once each: nth picks among catalogue entries sharing code and path."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str, int], None] = {}

    def add(self, code: str, path: str, nth: int = 0) -> None:
        self.found.setdefault((code, path, nth), None)

    def result(self) -> tuple[RuleError, ...]:
        entries = ErrorCatalogue.load(CATALOGUE).entries
        located = sorted(
            (_entry_index(code, path, nth), code, path) for code, path, nth in self.found
        )
        return tuple(
            RuleError(code, path, entries[index].fr, entries[index].nl)
            for index, code, path in located
        )


def _entry_index(code: str, path: str, nth: int) -> int:
    """Catalogue position of the nth entry with this code and path (else the code's first)."""
    catalogue = ErrorCatalogue.load(CATALOGUE)
    same = [i for i, e in enumerate(catalogue.entries) if e.code == code and e.path == path]
    if same:
        return same[min(nth, len(same) - 1)]
    return catalogue.entries.index(catalogue.entry(code))


def _parse_date(text: str | None) -> date | None:
    match = _ISO_DATE.fullmatch((text or "").strip())
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def _request_id(request_id: str | None, author: str | None, errors: _Errors) -> None:
    match = _REQUEST_ID.fullmatch(request_id or "")
    if match is None:
        errors.add("111", REQUEST_ID)
    elif author and match.group(1) != author:
        errors.add("155", REQUEST_ID)


def _author_kind(
    author: str | None,
    envelope_nihii: str | None,
    population: Population,
    errors: _Errors,
) -> str | None:
    """Validate the author; returns its provider kind when it may send eAttests."""
    if not author:
        errors.add("100", AUTHOR)
        return None
    if not is_valid_nihii(author):
        errors.add("111", AUTHOR_ID)
        return None
    if envelope_nihii and not same_person(envelope_nihii, author):
        errors.add("155", AUTHOR_ID)
    profession = nihii_profession(author)
    if profession is None:
        errors.add("141", AUTHOR_ID)
        return None
    provider = population.provider(author)
    # A valid NIHII outside the population is taken for its profession digit (walk-in).
    kind = provider.kind if provider is not None else _PROFESSION_KIND.get(profession)
    if kind not in EATTEST_KINDS:
        errors.add("140", AUTHOR_ID)
        return None
    return kind


def _patient(
    ssin: str | None,
    envelope_ssin: str | None,
    population: Population,
    today: date,
    errors: _Errors,
) -> Patient | None:
    """The patient, insured today; 120 (500742) when unknown, not insured or deceased."""
    if not ssin or len(ssin) != 11 or not ssin.isdigit() or not is_valid_niss(ssin, today=today):
        errors.add("111", PATIENT_ID)
        return None
    if envelope_ssin and envelope_ssin != ssin:
        errors.add("155", PATIENT_ID)
    patient = population.find(ssin)
    if (
        patient is None
        or patient.period_on(today) is None
        or (patient.death_date is not None and patient.death_date < today)
    ):
        errors.add("120", PATIENT_ID)
        return None
    return patient


def _amount(text: str | None) -> Decimal | None:
    if text is None or not _AMOUNT.fullmatch(text.strip()):
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        return None


# -- SendAttestation -----------------------------------------------------------------------------


def decide_attestation(
    query: AttestationQuery,
    population: Population,
    today: date,
    history: Iterable[LedgerService] = (),
) -> AttestationOutcome:
    """Accept or refuse one eAttest; `history`: the services the insurer already accepted
    for this patient (its ledger: attestations and eFact/MediPrima invoices)."""
    errors = _Errors()
    _request_id(query.request_id, query.author_nihii, errors)
    kind = _author_kind(query.author_nihii, query.envelope_provider_nihii, population, errors)
    patient = _patient(query.patient_ssin, query.envelope_patient_ssin, population, today, errors)
    if not query.has_cga:
        errors.add("100", _FOLDER, 0)
    if not query.services:
        errors.add("100", _FOLDER, 1)
    _global_part(query, patient, today, errors)
    entries = _services(query, kind, patient, today, errors)
    _same_day(query, today, errors)
    if patient is not None and kind is not None:
        _third_party_payment(patient, kind, entries, errors)
        _history(query, patient, today, history, errors)
    if errors.found or patient is None:
        insurer = patient.insurer if patient is not None else None
        return AttestationOutcome(errors=errors.result(), patient=patient, insurer=insurer)
    lines = tuple(
        FeeLine(
            code=entry.code,
            fee=entry.fee,
            encounter_date=today,
            quantity=(service.quantity or "1").strip(),
            distinct=ledger_rules.declares_distinct(_exemption(service)),
        )
        for service, entry in zip(query.services, entries, strict=True)
        if entry is not None
    )
    return AttestationOutcome(patient=patient, insurer=patient.insurer, day=today, lines=lines)


def _global_part(
    query: AttestationQuery, patient: Patient | None, today: date, errors: _Errors
) -> None:
    if query.has_cga:
        day = _parse_date(query.transaction_date)
        if day is not None and day > today:
            errors.add("146", CGA_DATE)
        elif day is not None and day < today:
            errors.add("191", CGA_DATE)
        if query.patient_paid is None:
            errors.add("100", _CGA, 0)
        elif _amount(query.patient_paid) is None:
            errors.add("111", PATIENT_PAID)
        if query.receiving_party is None:
            errors.add("100", _CGA, 1)
        elif not is_valid_cbe(query.receiving_party):
            errors.add("111", RECEIVING_PARTY)
    if query.supplement is not None:
        supplement = _amount(query.supplement)
        if supplement is None:
            errors.add("111", SUPPLEMENT)
        elif supplement > 0 and patient is not None and supplement_forbidden(patient, today):
            # Automatic BIM ("no supp"): no supplement on reimbursable codes (domain-rules 1.2).
            errors.add("130", SUPPLEMENT)


def _services(
    query: AttestationQuery,
    kind: str | None,
    patient: Patient | None,
    today: date,
    errors: _Errors,
) -> list[nomenclature.NomenclatureEntry | None]:
    found: list[nomenclature.NomenclatureEntry | None] = []
    for service in query.services:
        entry = _claim(service, kind, patient, today, errors)
        found.append(entry)
        if service.quantity is None:
            errors.add("100", CLAIM, 2)
        elif not re.fullmatch(r"[1-9]\d{0,2}", service.quantity.strip()):
            errors.add("111", QUANTITY)
        if service.encounter_date is None:
            errors.add("100", _CGD, 1)
        elif _parse_date(service.encounter_date) is None:
            errors.add("191", ENCOUNTER_DATE)  # unreadable dates are not today's either
        exemption = _exemption(service)
        if exemption is not None and not ledger_rules.is_exemption(exemption):
            errors.add("130", EXEMPTION)
        _gmd_manager(service, query.author_nihii, patient, errors)
    return found


def _exemption(service: AttestedService) -> str | None:
    return service.exemption.strip() if service.exemption is not None else None


def _claim(
    service: AttestedService,
    kind: str | None,
    patient: Patient | None,
    today: date,
    errors: _Errors,
) -> nomenclature.NomenclatureEntry | None:
    code = (service.code or "").strip()
    if not code:
        errors.add("100", CLAIM, 0)
        return None
    entry = nomenclature.lookup(code) if is_valid_nomenclature_code(code) else None
    if entry is None:
        errors.add("130", CLAIM_CD)
        return None
    if entry.category in _NOT_IN_EATTEST:
        errors.add("195", CLAIM_CD)
        return None
    if kind is not None and kind not in entry.kinds:
        errors.add("171", CLAIM_CD)
        return None
    if patient is not None and medical_house_covers(patient, entry.code, today):
        errors.add("169", CLAIM_CD)  # the house's flat rate already pays for it
        return None
    return entry


def _gmd_manager(
    service: AttestedService, author: str | None, patient: Patient | None, errors: _Errors
) -> None:
    manager = service.gmd_manager
    if manager is None:
        return
    if not is_valid_nihii(manager):
        errors.add("111", GMD_MANAGER_ID)
    elif patient is not None and not (
        patient.dmg_holder is not None and same_person(patient.dmg_holder, manager)
    ):
        errors.add("167", GMD_MANAGER_ID)  # 504949: not the patient's DMG holder


def _same_day(query: AttestationQuery, today: date, errors: _Errors) -> None:
    """Services are attested the day they are given (NOCRPR / 238, 191, 146)."""
    days = [_parse_date(s.encounter_date) for s in query.services if s.encounter_date]
    known = [day for day in days if day is not None]
    if query.services and today not in known:
        errors.add("238", CGA_DATE)
        return
    for day in known:
        if day > today:
            errors.add("146", ENCOUNTER_DATE)
        elif day < today:
            errors.add("191", ENCOUNTER_DATE)


def _third_party_payment(
    patient: Patient,
    kind: str,
    entries: list[nomenclature.NomenclatureEntry | None],
    errors: _Errors,
) -> None:
    """ERR3PAY / 196: a GP must bill a BIM patient's consultation in third-party payment.

    Home visits are exempt (allowed, not mandatory), as are nursing-home residents, whom the
    population already marks as not mandatory (domain-rules 1.2).
    """
    if kind != "GP" or not patient.third_party_payment_mandatory:
        return
    if any(
        entry is not None and entry.category is nomenclature.Category.GP_CONSULTATION
        for entry in entries
    ):
        errors.add("196", PATIENT_ID)


def _history(
    query: AttestationQuery,
    patient: Patient,
    today: date,
    history: Iterable[LedgerService],
    errors: _Errors,
) -> None:
    """190 (502255) and the other ledger codes: judged against what the insurer accepted."""
    candidates = attested_services(query, patient, today, PENDING)
    for finding in ledger_rules.judge_all(history, candidates):
        errors.add(finding.eattest_code, _FINDING_PATH[finding.eattest_code])


def attested_services(
    query: AttestationQuery, patient: Patient, day: date, number: str
) -> list[LedgerService]:
    """The attestation's services as the insurer's ledger keeps them (codes it knows only)."""
    services = []
    for line, service in enumerate(query.services):
        entry = nomenclature.lookup((service.code or "").strip())
        quantity = (service.quantity or "1").strip()
        if entry is None or not quantity.isdigit():
            continue
        services.append(
            LedgerService(
                insurer=patient.insurer,
                patient=patient.ssin,
                code=entry.code,
                day=_parse_date(service.encounter_date) or day,
                provider=query.author_nihii or "",
                channel=Channel.EATTEST,
                source=number,
                line=line,
                quantity=int(quantity),
                distinct=ledger_rules.declares_distinct(_exemption(service)),
            )
        )
    return services


def duplicate_outcome(outcome: AttestationOutcome) -> AttestationOutcome:
    """The refusal (190) when another request kept the patient's ledger a moment too long."""
    errors = _Errors()
    errors.add("190", QUANTITY)
    return AttestationOutcome(
        errors=errors.result(), patient=outcome.patient, insurer=outcome.insurer
    )


def refused_by_ledger(
    outcome: AttestationOutcome, findings: Iterable[Finding]
) -> AttestationOutcome:
    """The refusal when the ledger, judged again as the attestation is recorded, finds what
    a simultaneous request recorded a moment earlier."""
    errors = _Errors()
    for finding in findings:
        errors.add(finding.eattest_code, _FINDING_PATH[finding.eattest_code])
    return AttestationOutcome(
        errors=errors.result(), patient=outcome.patient, insurer=outcome.insurer
    )


# -- CancelAttestation ---------------------------------------------------------------------------


def decide_cancellation(
    query: CancellationQuery,
    population: Population,
    today: date,
    attested: Attested | None,
) -> CancellationOutcome:
    """Accept or refuse the cancellation of `query.invoicing_number` (None: not issued)."""
    errors = _Errors()
    _request_id(query.request_id, query.author_nihii, errors)
    _author_kind(query.author_nihii, query.envelope_provider_nihii, population, errors)
    ssin = query.patient_ssin
    if not ssin or len(ssin) != 11 or not ssin.isdigit() or not is_valid_niss(ssin, today=today):
        errors.add("111", PATIENT_ID)
    elif query.envelope_patient_ssin and query.envelope_patient_ssin != ssin:
        errors.add("155", PATIENT_ID)
    reason = (query.reason or "").strip()
    if not query.has_invoicing_item:
        errors.add("100", _CANCEL)
    elif not reason:
        errors.add("100", INVOICING, 1)
    elif not re.fullmatch(r"[A-Z]", reason):
        errors.add("111", REASON_CD)
    elif reason not in CANCELLATION_REASONS:
        errors.add("130", REASON_CD)
    number = (query.invoicing_number or "").strip()
    if query.has_invoicing_item:
        if not number:
            errors.add("100", INVOICING, 0)
        elif not is_valid_invoicing_number(number):
            errors.add("111", INVOICING_TEXT)
        elif attested is None:
            errors.add("141", INVOICING_TEXT)
        else:
            _cancellable(query, attested, today, errors)
    if errors.found or attested is None:
        return CancellationOutcome(errors=errors.result())
    return CancellationOutcome(attested=attested, reason=reason)


def already_cancelled() -> CancellationOutcome:
    """The refusal when another request cancelled the same number a moment earlier (240)."""
    errors = _Errors()
    errors.add("240", INVOICING_TEXT)
    return CancellationOutcome(errors=errors.result())


def _cancellable(
    query: CancellationQuery, attested: Attested, today: date, errors: _Errors
) -> None:
    if query.patient_ssin and query.patient_ssin != attested.patient_ssin:
        errors.add("244", INVOICING_TEXT)  # the number belongs to another patient
    if query.author_nihii and not same_person(query.author_nihii, attested.author_nihii):
        errors.add("245", INVOICING_TEXT)  # the number was issued to another provider
    if attested.cancelled is not None:
        errors.add("240", INVOICING_TEXT)
    elif today > attested.day + CANCELLATION_WINDOW:
        errors.add("239", INVOICING_TEXT)
