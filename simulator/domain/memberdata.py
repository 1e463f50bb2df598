"""MemberData: what the insurer answers to a SAML 2.0 AttributeQuery (domain-rules section 3).

The codec turns the AttributeQuery into a `MemberDataQuery` (strings exactly as read, None when
absent); `consult_member_data` checks it the way MyCareNet and the insurer do, then answers one
block per facet. The SAML status of a refusal comes from the MemberData catalogue: one status
per answer, the first problem found in the order the checks below run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from simulator.domain import nomenclature
from simulator.domain.calendar import shift_years
from simulator.domain.care import HospitalStay
from simulator.domain.catalogue import ErrorCatalogue
from simulator.domain.identifiers import is_valid_mutuality, is_valid_nihii, is_valid_niss
from simulator.domain.population import InsurabilityPeriod, Patient, Population

CATALOGUE = "memberdata"
_NIPPIN = "urn:be:cin:nippin:"
_RECEIVER = f"{_NIPPIN}careReceiver:"

SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"

INSURABILITY = "urn:be:cin:nippin:insurability"
CHRONIC_CONDITION = "urn:be:cin:nippin:chronicCondition"
CARE_PATH = "urn:be:cin:nippin:carePath"
REFERENCE_PHARMACY = "urn:be:cin:nippin:referencePharmacy"
GLOBAL_MEDICAL_FILE = "urn:be:cin:nippin:globalMedicalFile"
PALLIATIVE_STATUS = "urn:be:cin:nippin:palliativeStatus"

# Facet -> dimension -> allowed values (wire-formats 2.1, domain-rules 3.1).
FACETS: dict[str, dict[str, frozenset[str]]] = {
    INSURABILITY: {
        "requestType": frozenset({"information", "invoicing"}),
        "contactType": frozenset({"other", "hospitalized"}),
    },
    CHRONIC_CONDITION: {},
    CARE_PATH: {"carePathType": frozenset({"diabetes", "renalinsufficiency"})},
    REFERENCE_PHARMACY: {},
    GLOBAL_MEDICAL_FILE: {},
    PALLIATIVE_STATUS: {},
}
# The catalogue has dedicated codes for an empty or unknown value of these dimensions.
_EMPTY_DIMENSION = {
    "requestType": "EMPTY_REQUESTTYPE",
    "contactType": "EMPTY_CONTACTTYPE",
    "carePathType": "EMPTY_CAREPATHTYPE",
}
# Dimensions that may be repeated in their facet, each occurrence naming one more value: the
# connector's default carePath facet asks for diabetes and renalinsufficiency at once
# (client-quirks #10), and the catalogue's DUPLICATED_DIMENSION is for "a *unique* dimension"
# repeated. requestType and contactType each take one value: they stay unique.
REPEATABLE_DIMENSIONS = frozenset({"carePathType"})
_UNALLOWED_DIMENSION = {
    "requestType": "UNALLOWED_REQUESTTYPE",
    "contactType": "UNALLOWED_CONTACTTYPE",
    "carePathType": "UNALLOWED_CAREPATHTYPE",
}
# Facets a requester quality may not ask for (domain-rules 3.1: physiotherapists get
# UNAUTHORIZED_FACET for carePath and referencePharmacy) [C for physiotherapists, A otherwise].
UNAUTHORIZED_FACETS: dict[str, frozenset[str]] = {
    "physiotherapist": frozenset({CARE_PATH, REFERENCE_PHARMACY}),
    "nurse": frozenset({REFERENCE_PHARMACY}),
    "dentist": frozenset({CARE_PATH, REFERENCE_PHARMACY}),
}

ISSUER_FORMAT = "urn:be:cin:nippin:nihii11"
SSIN_FORMAT = "urn:be:fgov:person:ssin"
SSIN_AT_MUTUALITY_FORMAT = "urn:be:cin:nippin:member:ssin@mut"
REGISTRATION_AT_MUTUALITY_FORMAT = f"{_RECEIVER}registrationNumber@mut"
NAME_ID_FORMATS = frozenset(
    {SSIN_FORMAT, SSIN_AT_MUTUALITY_FORMAT, REGISTRATION_AT_MUTUALITY_FORMAT}
)
CONFIRMATION_METHOD = "urn:be:cin:nippin:memberIdentification"
MAX_YEARS_BACK = 5
MAX_PERIODS = 5

# Assertion types of the answer (domain-rules 3.2).
PATIENT_DATA = "urn:be:cin:nippin:insurability:patientData"
PERIOD = "urn:be:cin:nippin:insurability:period"
PAYMENT = "urn:be:cin:nippin:insurability:payment"
HOSPITALISATION = "urn:be:cin:nippin:hospitalisation"
MEDICAL_HOUSE = "urn:be:cin:nippin:medicalHouse"
TECHNICAL = "urn:be:cin:nippin:technicalAssertion"
# The "special status" of an automatic BIM (no income enquiry): "no supp", no supplement may be
# charged on reimbursable ambulatory codes (S-FAQ-INAMI, domain-rules 1.2) [C]. The attribute
# that carries it was not found [U]: we answer it in the insurability facet, in the payment
# block, where the GenIns predecessor kept Payment/SpecialSocialCategory (GENINS-XSD) [A].
SPECIAL_STATUS = f"{_NIPPIN}payment:specialStatus"
NO_SUPPLEMENT = "no supp"


@dataclass(frozen=True)
class FacetRequest:
    id: str
    dimensions: tuple[tuple[str, str], ...] = ()  # (id, value) as sent, in order

    def dimension(self, name: str) -> str | None:
        return next((value for key, value in self.dimensions if key == name), None)

    def values(self, name: str) -> tuple[str, ...]:
        """Every value sent for `name`: several for a repeatable dimension (carePathType)."""
        return tuple(value for key, value in self.dimensions if key == name)


@dataclass(frozen=True)
class MemberDataQuery:
    query_id: str | None
    issuer: str | None  # None: no saml:Issuer element
    issuer_format: str | None
    has_extensions: bool
    extensions_typed: bool  # samlp:Extensions carries xsi:type ext:ExtensionsType
    facets: tuple[FacetRequest, ...]
    has_attributes: bool  # saml:Attribute children are forbidden in the query
    name_id: str | None  # None: no NameID element
    name_id_format: str | None
    has_confirmation: bool
    confirmation_method: str | None
    has_confirmation_data: bool
    not_before: str | None
    not_on_or_after: str | None
    requester_nihii: str | None = None  # CommonInput Origin/CareProvider/Nihii/Value
    requester_quality: str | None = None  # CommonInput Nihii/Quality: doctor, dentist, ...


@dataclass(frozen=True)
class Attribute:
    name: str
    value: str
    xsd_type: str = "string"  # xs:string | xs:date | xs:boolean


@dataclass(frozen=True)
class AnswerBlock:
    """One saml:Assertion of the answer: its type, the facet it answers and its attributes."""

    assertion_type: str
    facet: FacetRequest
    attributes: tuple[Attribute, ...]


@dataclass(frozen=True)
class StatusDetail:
    """A catalogue entry as the answer's samlp:Status carries it."""

    code: str  # detail code, e.g. BO_UNKNOWN_NISS
    status: str
    sub_status: str
    fault_code: str
    fault_source: str
    path: str | None
    message_en: str
    message_fr: str
    message_nl: str


@dataclass(frozen=True)
class MemberDataAnswer:
    status: str
    details: tuple[StatusDetail, ...] = ()
    blocks: tuple[AnswerBlock, ...] = ()
    insurer: str | None = None  # 3-digit union code of the answering insurer
    patient: Patient | None = None
    start: date | None = None
    end: date | None = None

    @property
    def accepted(self) -> bool:
        return self.status == SUCCESS

    @property
    def sub_status(self) -> str | None:
        return self.details[0].sub_status if self.details else None


class Refusal(Exception):
    """A check failed: the answer is this catalogue status and nothing else."""

    def __init__(self, code: str, path: str | None = None) -> None:
        super().__init__(code)
        self.detail = status_detail(code, path)


def status_detail(code: str, path: str | None = None) -> StatusDetail:
    entry = ErrorCatalogue.load(CATALOGUE).entry(code, path)
    return StatusDetail(
        code=code,
        status=entry.status,
        sub_status=entry.sub_status,
        fault_code=entry.fault_code,
        fault_source=entry.fault_source,
        path=path or entry.path,
        message_en=entry.en,
        message_fr=entry.fr,
        message_nl=entry.nl,
    )


def consult_member_data(
    query: MemberDataQuery, population: Population, today: date
) -> MemberDataAnswer:
    """Check the query and answer every facet asked, or refuse with one catalogue status."""
    try:
        _check_issuer(query)
        _check_facets(query)
        _check_subject_form(query)
        start, end = _check_period(query, today)
        patient = _find_patient(query, population)
        _check_patient_facts(query, patient, start, end)
    except Refusal as refusal:
        return MemberDataAnswer(status=refusal.detail.status, details=(refusal.detail,))

    blocks, warnings = _answer(query, patient, start, end, population)
    return MemberDataAnswer(
        status=SUCCESS,
        details=tuple(warnings),
        blocks=tuple(blocks),
        insurer=patient.insurer,
        patient=patient,
        start=start,
        end=end,
    )


# -- checks, in the order the service runs them --------------------------------------------


def _check_issuer(query: MemberDataQuery) -> None:
    if query.issuer is None:
        raise Refusal("MISSING_ISSUER_TAG")
    if query.issuer_format is None:
        raise Refusal("MISSING_ISSUER_FORMAT")
    if query.issuer_format != ISSUER_FORMAT:
        raise Refusal("INVALID_ISSUER_FORMAT")
    if not is_valid_nihii(query.issuer.strip()):
        raise Refusal("INVALID_ISSUER_VALUE")
    if query.requester_nihii and query.requester_nihii != query.issuer.strip():
        raise Refusal("CROSSCHECK_ISSUER")
    if query.has_attributes:
        raise Refusal("FORBIDDEN_ATTRIBUTES")


def _check_facets(query: MemberDataQuery) -> None:
    if not query.has_extensions:
        raise Refusal("MISSING_EXTENSIONS_TAG")
    if not query.extensions_typed:
        raise Refusal("MISSING_OR_BAD_EXTENSIONS_TYPE", "/AttributeQuery/Extensions/@xsi:type")
    seen: set[str] = set()
    forbidden = UNAUTHORIZED_FACETS.get(query.requester_quality or "", frozenset())
    for facet in query.facets:
        if facet.id not in FACETS:
            raise Refusal("UNKNOWN_FACET")
        if facet.id in seen:
            raise Refusal("DUPLICATED_FACET")
        seen.add(facet.id)
        if facet.id in forbidden:
            raise Refusal("UNAUTHORIZED_FACET")
        _check_dimensions(facet)
    if not query.facets:
        raise Refusal("MISSING_EXTENSIONS_TAG")


def _check_dimensions(facet: FacetRequest) -> None:
    allowed = FACETS[facet.id]
    names = [name for name, _ in facet.dimensions]
    for name in names:
        if name not in allowed:
            raise Refusal("INVALID_DIMENSION_ID")
    unique = [name for name in names if name not in REPEATABLE_DIMENSIONS]
    if len(set(unique)) != len(unique):
        raise Refusal("DUPLICATED_DIMENSION")
    for name, values in allowed.items():
        sent = facet.values(name)
        if not sent:
            raise Refusal("MISSING_DIMENSION")
        for value in sent:
            if not value.strip():
                raise Refusal(_EMPTY_DIMENSION[name])
            if value.strip() not in values:
                raise Refusal(_UNALLOWED_DIMENSION[name])


def _check_subject_form(query: MemberDataQuery) -> None:
    if query.name_id is None:
        raise Refusal("MISSING_NAMEID")
    if query.name_id_format is None:
        raise Refusal("MISSING_NAMEID_FORMAT")
    if query.name_id_format not in NAME_ID_FORMATS:
        raise Refusal("INVALID_NAMEID_FORMAT")
    value = query.name_id.strip()
    if query.name_id_format == SSIN_FORMAT:
        _check_ssin(value)
        return
    person, _, mutuality = value.partition("@")
    if query.name_id_format == SSIN_AT_MUTUALITY_FORMAT:
        _check_ssin(person)
    elif not person:
        raise Refusal("EMPTY_REG_NUM")
    if not mutuality:
        raise Refusal("EMPTY_IO")
    if len(mutuality) != 3 or not mutuality.isdigit():
        raise Refusal("INVALID_IO_FORMAT")
    if not is_valid_mutuality(mutuality):
        raise Refusal("INVALID_IO_VALUE")


def _check_ssin(ssin: str) -> None:
    if not ssin:
        raise Refusal("EMPTY_INSS")
    if len(ssin) != 11 or not ssin.isdigit():
        raise Refusal("INVALID_INSS_FORMAT", "/AttributeQuery/Subject/NameID")
    if not is_valid_niss(ssin):
        raise Refusal("INVALID_INSS_VALUE")


def _check_period(query: MemberDataQuery, today: date) -> tuple[date, date]:
    if not query.has_confirmation:
        raise Refusal("MISSING_SUBJECT_CONFIRMATION_TAG")
    if query.confirmation_method != CONFIRMATION_METHOD:
        raise Refusal("INVALID_SUBJECT_CONFIRMATION_METHOD_VALUE")
    if not query.has_confirmation_data:
        raise Refusal("MISSING_SUBJECT_CONFIRMATION_DATA_TAG")
    start = _day(query.not_before)
    if start is None:
        raise Refusal("EMPTY_STARTDATE")
    end = _day(query.not_on_or_after)
    if end is None:
        raise Refusal("EMPTY_ENDDATE")
    if end < start:
        raise Refusal("INVALID_PERIOD")
    if start > today:
        raise Refusal("START_DATE_IN_FUTURE")
    if start < shift_years(today, -MAX_YEARS_BACK):
        raise Refusal("PERIOD_TOO_FAR_IN_PAST")
    return start, end


def _find_patient(query: MemberDataQuery, population: Population) -> Patient:
    value = (query.name_id or "").strip()
    if query.name_id_format == REGISTRATION_AT_MUTUALITY_FORMAT:
        number, _, mutuality = value.partition("@")
        if not number.isdigit():
            raise Refusal("BO_INVALID_REGNBR")
        for patient in population.patients:
            if any(
                p.mutuality == mutuality and p.registration_number == number
                for p in patient.periods
            ):
                return patient
        raise Refusal("BO_UNKNOWN_REGNBR")
    ssin, _, mutuality = value.partition("@")
    found = population.find(ssin)
    if found is None or not found.periods:
        # Nobody insures this NISS (CPAS-covered people included): MyCareNet's routing finds
        # no insurer for it.
        raise Refusal("UNKNOWN_NISS_ROUTING")
    if mutuality and all(period.mutuality != mutuality for period in found.periods):
        # Routed to the insurer named by the client, which has never insured the person.
        raise Refusal("BO_UNKNOWN_NISS")
    return found


def _check_patient_facts(query: MemberDataQuery, patient: Patient, start: date, end: date) -> None:
    hospitalized_asked = any(
        facet.id == INSURABILITY and facet.dimension("contactType") == "hospitalized"
        for facet in query.facets
    )
    if hospitalized_asked and _hospital_stay(patient, start, end) is None:
        raise Refusal("MISMATCHED_CONTACTTYPE")


# -- the answer ------------------------------------------------------------------------------


def _answer(
    query: MemberDataQuery, patient: Patient, start: date, end: date, population: Population
) -> tuple[list[AnswerBlock], list[StatusDetail]]:
    blocks: list[AnswerBlock] = []
    warnings: list[StatusDetail] = []
    for facet in query.facets:
        if facet.id == INSURABILITY:
            blocks += _insurability(facet, patient, start, end, warnings)
        elif facet.id == GLOBAL_MEDICAL_FILE and patient.dmg_holder:
            blocks.append(_global_medical_file(facet, patient.dmg_holder, population))
        elif facet.id == CHRONIC_CONDITION and patient.chronic_status is not None:
            status = patient.chronic_status
            years = [
                year
                for year in range(start.year, end.year + 1)
                if _overlap(status.start, status.end, date(year, 1, 1), date(year, 12, 31))
            ]
            if years:
                attributes = tuple(
                    Attribute(f"{_NIPPIN}chronicCondition:year", str(y)) for y in years
                )
                blocks.append(AnswerBlock(CHRONIC_CONDITION, facet, attributes))
        elif facet.id == PALLIATIVE_STATUS and patient.palliative_status is not None:
            status = patient.palliative_status
            if _overlap(status.start, status.end, start, end):
                since = Attribute(
                    f"{_NIPPIN}palliativeStatus:startDate", status.start.isoformat(), "date"
                )
                blocks.append(AnswerBlock(PALLIATIVE_STATUS, facet, (since,)))
        # carePath and referencePharmacy: the synthetic world holds no such data, and the real
        # service answers an absent status with no block rather than an error.
    facets_text = ",".join(facet.id.rsplit(":", 1)[-1] for facet in query.facets)
    technical = (
        Attribute(f"{_NIPPIN}technicalAssertion:status", facets_text),
        Attribute(f"{_NIPPIN}technicalAssertion:version", "1"),
    )
    blocks.append(AnswerBlock(TECHNICAL, query.facets[0], technical))
    return blocks, warnings


def _insurability(
    facet: FacetRequest, patient: Patient, start: date, end: date, warnings: list[StatusDetail]
) -> list[AnswerBlock]:
    identity = [
        Attribute("urn:be:fgov:person:ssin", patient.ssin),
        Attribute(f"{_RECEIVER}name", patient.last_name.upper()),
        Attribute(f"{_RECEIVER}firstName", patient.first_name.upper()),
        Attribute(f"{_RECEIVER}birthDate", patient.birth_date.isoformat(), "date"),
        Attribute(f"{_RECEIVER}gender", patient.sex),
    ]
    if patient.death_date is not None:
        identity.append(
            Attribute(f"{_RECEIVER}deceasedDate", patient.death_date.isoformat(), "date")
        )
    blocks = [AnswerBlock(PATIENT_DATA, facet, tuple(identity))]
    periods = [p for p in patient.periods if _overlap(p.start, p.end, start, end)]
    if len({p.mutuality for p in periods}) > 1:
        warnings.append(status_detail("MUTATION"))
    if len(periods) > MAX_PERIODS:
        warnings.append(status_detail("ONLY_FIVE_PERIODS_RETURNED"))
        periods = periods[-MAX_PERIODS:]
    invoicing = facet.dimension("requestType") == "invoicing"
    for period in periods:
        blocks.append(AnswerBlock(PERIOD, facet, _period_attributes(period, invoicing)))
    if periods:
        by_insurer = "true" if patient.third_party_payment_mandatory else "false"
        payment = [Attribute(f"{_NIPPIN}payment:byIO", by_insurer, "boolean")]
        if any(_no_supplement(patient, period) for period in periods):
            payment.append(Attribute(SPECIAL_STATUS, NO_SUPPLEMENT))
        blocks.append(AnswerBlock(PAYMENT, facet, tuple(payment)))
    contract = patient.medical_house_contract
    if contract is not None and _overlap(contract.start, contract.end, start, end):
        attributes = [
            Attribute(f"{_NIPPIN}medicalHouse:nihii11", contract.house),
            Attribute(f"{_NIPPIN}medicalHouse:startDate", contract.start.isoformat(), "date"),
        ]
        if contract.end is not None:
            attributes.append(
                Attribute(f"{_NIPPIN}medicalHouse:endDate", contract.end.isoformat(), "date")
            )
        attributes += [
            Attribute(f"{_NIPPIN}medicalHouse:type", discipline.capitalize())
            for discipline in contract.disciplines
        ]
        blocks.append(AnswerBlock(MEDICAL_HOUSE, facet, tuple(attributes)))
    stay = _hospital_stay(patient, start, end)
    if facet.dimension("contactType") == "hospitalized" and stay is not None:
        attributes = [
            Attribute(f"{_NIPPIN}hospital:nihii11", stay.hospital),
            Attribute(f"{_NIPPIN}hospital:admissionDate", stay.admission.isoformat(), "date"),
            Attribute(f"{_NIPPIN}hospital:service", stay.service),
        ]
        blocks.append(AnswerBlock(HOSPITALISATION, facet, tuple(attributes)))
    return blocks


def supplement_forbidden(patient: Patient, day: date) -> bool:
    """No supplement may be charged to `patient` for care on `day`: an automatic BIM ("no
    supp", S-FAQ-INAMI). BIM granted after an income enquiry may still pay supplements in 2025.
    For the eFact and eAttest checks (eFact 503043 [I], eAttest 130 on the supplement)."""
    period = patient.period_on(day)
    return period is not None and _no_supplement(patient, period)


def medical_house_covers(patient: Patient, code: str, day: date) -> bool:
    """`code` on `day` is paid by the patient's medical-house flat rate (the `medicalHouse`
    block): the insurer refuses it per act — eAttest 169, eFact 500450 (S-FAQ-INAMI: a paper
    ASD when the member consults outside the house) [C]. GP acts only, the "medical"
    discipline of the contract [A: which codes the flat rate covers]."""
    contract = patient.medical_house_contract
    entry = nomenclature.lookup(code)
    return (
        contract is not None
        and contract.covers(day)
        and "medical" in contract.disciplines
        and entry is not None
        and entry.category in nomenclature.MEDICAL_HOUSE_COVERED
    )


def _no_supplement(patient: Patient, period: InsurabilityPeriod) -> bool:
    # BIM on that period (CT1 ends in 1, domain-rules 3.2) and granted without income enquiry.
    return period.ct1.endswith("1") and patient.bim_basis == "automatic"


def _hospital_stay(patient: Patient, start: date, end: date) -> HospitalStay | None:
    stay = patient.hospital_stay
    if stay is not None and _overlap(stay.admission, stay.discharge, start, end):
        return stay
    return None


def _period_attributes(period: InsurabilityPeriod, invoicing: bool) -> tuple[Attribute, ...]:
    attributes = [
        Attribute(f"{_RECEIVER}registrationNumber", period.registration_number),
        Attribute(f"{_RECEIVER}mutuality", period.mutuality),
        Attribute("urn:be:cin:nippin:cb1", period.ct1),
        Attribute("urn:be:cin:nippin:cb2", period.ct2),
        Attribute("urn:be:cin:nippin:communicationDate", period.start.isoformat(), "date"),
    ]
    if invoicing:
        # The insurer's agreement to be invoiced for this period (eFact record 20) [A].
        attributes.append(
            Attribute(f"{_NIPPIN}paymentApproval", f"{period.mutuality}{period.start:%y%m%d}")
        )
    return tuple(attributes)


def _global_medical_file(facet: FacetRequest, holder: str, population: Population) -> AnswerBlock:
    attributes = [Attribute("urn:be:cin:nippin:globalMedicalFile:hcp:nihii11", holder)]
    provider = population.provider(holder)
    if provider is not None:
        attributes += [
            Attribute("urn:be:cin:nippin:globalMedicalFile:hcp:name", provider.last_name.upper()),
            Attribute(
                "urn:be:cin:nippin:globalMedicalFile:hcp:firstName", provider.first_name.upper()
            ),
        ]
    return AnswerBlock(GLOBAL_MEDICAL_FILE, facet, tuple(attributes))


def _overlap(first: date, last: date | None, start: date, end: date) -> bool:
    """[first, last] (last None = still running) meets the asked period [start, end]."""
    return first <= end and (last is None or last >= start)


def _day(text: str | None) -> date | None:
    if not text or not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).date()
    except ValueError:
        return None
