"""MemberData rules: one test per catalogue status the simulator gives, and the answer blocks."""

from dataclasses import replace
from datetime import date

import pytest

from simulator.domain.memberdata import (
    CHRONIC_CONDITION,
    INSURABILITY,
    ISSUER_FORMAT,
    PALLIATIVE_STATUS,
    PERIOD,
    REQUESTER,
    RESPONDER,
    SSIN_FORMAT,
    SUCCESS,
    TECHNICAL,
    FacetRequest,
    MemberDataAnswer,
    MemberDataQuery,
    consult_member_data,
)
from simulator.domain.population import Population, build_population

TODAY = date(2026, 11, 23)
GP = "10394044003"
INFORMATION = FacetRequest(INSURABILITY, (("requestType", "information"), ("contactType", "other")))


@pytest.fixture(scope="module")
def world() -> Population:
    return build_population(seed=5, patients=60, providers=6, today=TODAY)


def query(ssin: str, **changes: object) -> MemberDataQuery:
    base = MemberDataQuery(
        query_id="_1",
        issuer=GP,
        issuer_format=ISSUER_FORMAT,
        has_extensions=True,
        extensions_typed=True,
        facets=(INFORMATION,),
        has_attributes=False,
        name_id=ssin,
        name_id_format=SSIN_FORMAT,
        has_confirmation=True,
        confirmation_method="urn:be:cin:nippin:memberIdentification",
        has_confirmation_data=True,
        not_before="2026-11-23T00:00:00",
        not_on_or_after="2026-11-24T00:00:00",
        requester_nihii=GP,
        requester_quality="doctor",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"issuer": None}, "MISSING_ISSUER_TAG"),
        ({"issuer_format": None}, "MISSING_ISSUER_FORMAT"),
        ({"issuer_format": "urn:other"}, "INVALID_ISSUER_FORMAT"),
        ({"issuer": "12345"}, "INVALID_ISSUER_VALUE"),
        ({"requester_nihii": "17626284004"}, "CROSSCHECK_ISSUER"),
        ({"has_attributes": True}, "FORBIDDEN_ATTRIBUTES"),
        ({"has_extensions": False}, "MISSING_EXTENSIONS_TAG"),
        ({"extensions_typed": False}, "MISSING_OR_BAD_EXTENSIONS_TYPE"),
        ({"facets": (INFORMATION, INFORMATION)}, "DUPLICATED_FACET"),
        (
            {"facets": (FacetRequest(INSURABILITY, (("requestType", "information"),)),)},
            "MISSING_DIMENSION",
        ),
        (
            {
                "facets": (
                    FacetRequest(INSURABILITY, (("requestType", ""), ("contactType", "other"))),
                )
            },
            "EMPTY_REQUESTTYPE",
        ),
        (
            {
                "facets": (
                    FacetRequest(INSURABILITY, (("requestType", "x"), ("contactType", "other"))),
                )
            },
            "UNALLOWED_REQUESTTYPE",
        ),
        (
            {
                "facets": (
                    FacetRequest(
                        INSURABILITY, (("requestType", "information"), ("contactType", "elsewhere"))
                    ),
                )
            },
            "UNALLOWED_CONTACTTYPE",
        ),
        (
            {
                "facets": (
                    FacetRequest(
                        INSURABILITY,
                        (("requestType", "information"), ("contactType", "other"), ("colour", "x")),
                    ),
                )
            },
            "INVALID_DIMENSION_ID",
        ),
        (
            {
                "facets": (
                    FacetRequest(
                        INSURABILITY,
                        (
                            ("requestType", "information"),
                            ("requestType", "invoicing"),
                            ("contactType", "other"),
                        ),
                    ),
                )
            },
            "DUPLICATED_DIMENSION",
        ),
        ({"name_id": None}, "MISSING_NAMEID"),
        ({"name_id_format": None}, "MISSING_NAMEID_FORMAT"),
        ({"name_id_format": "urn:other"}, "INVALID_NAMEID_FORMAT"),
        ({"name_id": "123"}, "INVALID_INSS_FORMAT"),
        ({"name_id": ""}, "EMPTY_INSS"),
        ({"has_confirmation": False}, "MISSING_SUBJECT_CONFIRMATION_TAG"),
        ({"confirmation_method": "urn:other"}, "INVALID_SUBJECT_CONFIRMATION_METHOD_VALUE"),
        ({"has_confirmation_data": False}, "MISSING_SUBJECT_CONFIRMATION_DATA_TAG"),
        ({"not_before": None}, "EMPTY_STARTDATE"),
        ({"not_on_or_after": None}, "EMPTY_ENDDATE"),
    ],
)
def test_request_errors(world: Population, changes: dict[str, object], code: str) -> None:
    answer = consult_member_data(query(world.patients[1].ssin, **changes), world, TODAY)
    assert answer.status == REQUESTER
    assert [d.code for d in answer.details] == [code]
    assert answer.details[0].message_en  # the catalogue's text
    assert answer.blocks == ()


def test_ssin_at_mutuality_needs_a_valid_mutuality(world: Population) -> None:
    from simulator.domain.memberdata import SSIN_AT_MUTUALITY_FORMAT

    ssin = world.patients[1].ssin
    for value, code in (
        (f"{ssin}@", "EMPTY_IO"),
        (f"{ssin}@1x", "INVALID_IO_FORMAT"),
        (f"{ssin}@800", "INVALID_IO_VALUE"),
    ):
        answer = consult_member_data(
            query(ssin, name_id=value, name_id_format=SSIN_AT_MUTUALITY_FORMAT), world, TODAY
        )
        assert [d.code for d in answer.details] == [code]


def test_unknown_niss_is_a_routing_failure(world: Population) -> None:
    answer = consult_member_data(query(world.unknown_ssin()), world, TODAY)
    assert answer.status == RESPONDER
    assert answer.details[0].code == "UNKNOWN_NISS_ROUTING"


def test_facets_follow_the_patient_situation(world: Population) -> None:
    chronic = world.situation("chronic")
    palliative = world.situation("palliative")
    facets = (INFORMATION, FacetRequest(CHRONIC_CONDITION), FacetRequest(PALLIATIVE_STATUS))
    chronic_answer = consult_member_data(query(chronic.ssin, facets=facets), world, TODAY)
    palliative_answer = consult_member_data(query(palliative.ssin, facets=facets), world, TODAY)
    assert chronic_answer.status == palliative_answer.status == SUCCESS
    kinds = [b.assertion_type for b in chronic_answer.blocks]
    assert CHRONIC_CONDITION in kinds and PALLIATIVE_STATUS not in kinds
    kinds = [b.assertion_type for b in palliative_answer.blocks]
    assert PALLIATIVE_STATUS in kinds and CHRONIC_CONDITION not in kinds
    assert kinds[-1] == TECHNICAL


def test_a_not_insured_member_has_no_period(world: Population) -> None:
    patient = world.situation("not-insured")
    answer = consult_member_data(query(patient.ssin), world, TODAY)
    assert answer.status == SUCCESS
    assert PERIOD not in [b.assertion_type for b in answer.blocks]


def test_invoicing_adds_the_payment_approval(world: Population) -> None:
    invoicing = FacetRequest(INSURABILITY, (("requestType", "invoicing"), ("contactType", "other")))
    answer = consult_member_data(query(world.patients[1].ssin, facets=(invoicing,)), world, TODAY)
    (period,) = [b for b in answer.blocks if b.assertion_type == PERIOD]
    assert "urn:be:cin:nippin:paymentApproval" in [a.name for a in period.attributes]


def _blocks(answer: MemberDataAnswer, kind: str) -> list[dict[str, str]]:
    return [
        {a.name: a.value for a in block.attributes}
        for block in answer.blocks
        if block.assertion_type == kind
    ]


def test_more_than_five_periods_is_a_partial_answer(world: Population) -> None:
    patient = world.situation("many-periods")
    assert len(patient.periods) > 5
    answer = consult_member_data(
        query(patient.ssin, not_before="2022-01-01T00:00:00"), world, TODAY
    )
    assert answer.status == SUCCESS
    assert "ONLY_FIVE_PERIODS_RETURNED" in [d.code for d in answer.details]
    assert answer.details[0].sub_status == "urn:be:cin:nippin:SAML:status:PartialAnswer"
    assert len(_blocks(answer, PERIOD)) == 5


def test_a_change_of_mutuality_in_the_period_is_a_mutation(world: Population) -> None:
    patient = world.situation("mutuality-change")
    first, second = patient.periods
    answer = consult_member_data(
        query(patient.ssin, not_before=f"{first.end}T00:00:00"), world, TODAY
    )
    assert [d.code for d in answer.details] == ["MUTATION"]
    mutualities = [b["urn:be:cin:nippin:careReceiver:mutuality"] for b in _blocks(answer, PERIOD)]
    assert mutualities == [first.mutuality, second.mutuality]


def test_hospitalised_members_get_their_stay(world: Population) -> None:
    from simulator.domain.memberdata import HOSPITALISATION

    patient = world.situation("hospitalised")
    assert patient.hospital_stay is not None
    hospitalized = FacetRequest(
        INSURABILITY, (("requestType", "information"), ("contactType", "hospitalized"))
    )
    answer = consult_member_data(query(patient.ssin, facets=(hospitalized,)), world, TODAY)
    (stay,) = _blocks(answer, HOSPITALISATION)
    assert stay["urn:be:cin:nippin:hospital:nihii11"] == patient.hospital_stay.hospital


def test_medical_house_members_get_their_contract(world: Population) -> None:
    from simulator.domain.memberdata import MEDICAL_HOUSE

    patient = world.situation("medical-house")
    assert patient.medical_house_contract is not None
    (contract,) = _blocks(consult_member_data(query(patient.ssin), world, TODAY), MEDICAL_HOUSE)
    assert (
        contract["urn:be:cin:nippin:medicalHouse:nihii11"] == patient.medical_house_contract.house
    )


def test_statuses_carry_their_dates(world: Population) -> None:
    chronic = world.situation("chronic")
    palliative = world.situation("palliative")
    assert chronic.chronic_status is not None and palliative.palliative_status is not None
    facets = (INFORMATION, FacetRequest(CHRONIC_CONDITION), FacetRequest(PALLIATIVE_STATUS))
    (years,) = _blocks(
        consult_member_data(query(chronic.ssin, facets=facets), world, TODAY), CHRONIC_CONDITION
    )
    assert years["urn:be:cin:nippin:chronicCondition:year"] == "2026"
    (since,) = _blocks(
        consult_member_data(query(palliative.ssin, facets=facets), world, TODAY), PALLIATIVE_STATUS
    )
    assert since["urn:be:cin:nippin:palliativeStatus:startDate"] == (
        palliative.palliative_status.start.isoformat()
    )


def test_cpas_covered_people_are_not_routed(world: Population) -> None:
    patient = world.situation("mediprima-full")
    answer = consult_member_data(query(patient.ssin), world, TODAY)
    assert [d.code for d in answer.details] == ["UNKNOWN_NISS_ROUTING"]


# The connector's default facets (FHC/IFHC MemberDataServiceImpl.kt getAttrQuery, client-quirks
# #10): carePath repeats carePathType, once per care path asked.
CARE_PATHS = FacetRequest(
    "urn:be:cin:nippin:carePath",
    (("carePathType", "diabetes"), ("carePathType", "renalinsufficiency")),
)
CONNECTOR_DEFAULT_FACETS = (
    INFORMATION,
    FacetRequest(CHRONIC_CONDITION),
    CARE_PATHS,
    FacetRequest("urn:be:cin:nippin:referencePharmacy"),
)


def test_the_connector_default_facets_with_two_care_paths_are_answered(world: Population) -> None:
    patient = next(p for p in world.patients if p.periods)
    answer = consult_member_data(query(patient.ssin, facets=CONNECTOR_DEFAULT_FACETS), world, TODAY)
    assert answer.status == SUCCESS, answer.details
    assert answer.blocks[-1].assertion_type == TECHNICAL


@pytest.mark.parametrize(
    ("dimensions", "code"),
    [
        # A unique dimension repeated is still refused, even with equal values.
        ((("requestType", "information"), ("requestType", "information")), "DUPLICATED_DIMENSION"),
        ((("contactType", "other"), ("contactType", "hospitalized")), "DUPLICATED_DIMENSION"),
    ],
)
def test_unique_dimensions_may_not_repeat(
    world: Population, dimensions: tuple[tuple[str, str], ...], code: str
) -> None:
    other = [d for d in INFORMATION.dimensions if d[0] != dimensions[0][0]]
    facet = FacetRequest(INSURABILITY, (*dimensions, *other))
    answer = consult_member_data(query(world.patients[1].ssin, facets=(facet,)), world, TODAY)
    assert (answer.status, answer.details[0].code) == (REQUESTER, code)


@pytest.mark.parametrize(
    ("values", "code"),
    [(("diabetes", "cancer"), "UNALLOWED_CAREPATHTYPE"), (("diabetes", " "), "EMPTY_CAREPATHTYPE")],
)
def test_every_repeated_care_path_is_checked(
    world: Population, values: tuple[str, ...], code: str
) -> None:
    facet = FacetRequest("urn:be:cin:nippin:carePath", tuple(("carePathType", v) for v in values))
    answer = consult_member_data(
        query(world.patients[1].ssin, facets=(INFORMATION, facet)), world, TODAY
    )
    assert (answer.status, answer.details[0].code) == (REQUESTER, code)
