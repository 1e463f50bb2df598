"""MediPrima codecs against the official XSDs and our own schemas: consultation v1/v2, UMA and
CAAMI tarification. Every request and response the codecs build is validated; samples parse."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from simulator.codecs import mediprima as consult
from simulator.codecs import tarification_mediprima as caami
from simulator.codecs import uma
from simulator.codecs.blob import decode_blob
from simulator.codecs.mycarenet_commons import PayloadError
from simulator.codecs.tarification import PROTOCOL
from simulator.domain.mediprima import REQUESTER, SUCCESS, consult_carmed
from simulator.domain.population import SITUATIONS, Population, build_population
from simulator.domain.tarification_mediprima import consult_mediprima_tariff
from simulator.domain.uma import SendUma, UmaAttestation, error
from simulator.soap.parser import parse_xml
from simulator.soap.validation import OfficialSchemas, ProjectSchemas

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 10, 0, 1, tzinfo=UTC)
SAMPLES = "samples/reconstructed"
MEDIPRIMA_SITUATIONS = [s for s in SITUATIONS if s.startswith("mediprima")] + ["regular"]


@pytest.fixture(scope="module")
def world() -> Population:
    return build_population(seed=3, patients=len(SITUATIONS), providers=10, today=TODAY)


@pytest.fixture(scope="module")
def official(shared_reference: Path) -> OfficialSchemas:
    return OfficialSchemas(shared_reference / "xsd")


@pytest.fixture(scope="module")
def ours() -> ProjectSchemas:
    return ProjectSchemas()


def _wire(element: etree._Element) -> etree._Element:
    """What goes on the wire, parsed back: validation must not depend on in-memory state."""
    return etree.fromstring(etree.tostring(element))


def _assert_valid(
    official: OfficialSchemas, ours: ProjectSchemas, element: etree._Element, kind: str
) -> None:
    wire = _wire(element)
    violation = official.validate(wire)
    assert violation is None, violation.describe()
    own = ours.validate(wire, kind)
    assert own is None, own.describe()


# -- consultation -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("situation", MEDIPRIMA_SITUATIONS)
def test_requests_and_responses_validate(
    official: OfficialSchemas,
    ours: ProjectSchemas,
    world: Population,
    situation: str,
    version: int,
) -> None:
    gp = world.providers_of_kind("GP")[0].nihii
    request = consult.build_request(
        world.situation(situation).ssin,
        version=version,
        request_id="_r1",
        now=NOW,
        period=(date(2026, 1, 1), TODAY),
    )
    _assert_valid(official, ours, request, f"mediprima-v{version}-request")
    parsed = consult.parse_request(_wire(request))
    answer = consult_carmed(parsed.query(gp), world, TODAY)
    agreements = {r.decision.carmed_number: "MP26112300000001" for r in answer.results}
    response = consult.build_response(
        parsed, answer, agreements=agreements, response_id="_a1", now=NOW
    )
    _assert_valid(official, ours, response, f"mediprima-v{version}-response")
    result = consult.parse_response(_wire(response))
    assert result.status == answer.status
    assert result.reason_codes == tuple(m.code for m in answer.messages)
    assert [c.carmed_number for c in result.carmeds] == [
        r.decision.carmed_number for r in answer.results
    ]


def test_the_v2_answer_links_the_attestation_and_v1_cannot(world: Population) -> None:
    ssin = world.situation("mediprima-uma").ssin
    numbers = []
    for version in (1, 2):
        request = consult.parse_request(
            consult.build_request(
                ssin, version=version, request_id="_r", now=NOW, reference_date=TODAY
            )
        )
        answer = consult_carmed(request.query(None), world, TODAY)
        response = consult.build_response(request, answer, agreements={}, response_id="_a", now=NOW)
        numbers.append(consult.parse_response(response).carmeds[0].uma_attestation_number)
    (decision,) = world.situation("mediprima-uma").cpas_decisions
    assert numbers == [None, decision.uma_attestation]


def test_the_reconstructed_samples_are_read(shared_reference: Path) -> None:
    sample = shared_reference / SAMPLES
    request = consult.parse_request(
        parse_xml((sample / "mediprima-v2-ConsultCarmedInterventionRequest.xml").read_bytes())
    )
    assert (request.version, request.request_id, request.ssin) == (2, "R3f0a", "00011317652")
    assert (request.start, request.end, request.by_period) == (
        date(2024, 1, 10),
        date(2024, 1, 10),
        False,
    )
    response = consult.parse_response(
        parse_xml((sample / "mediprima-v2-ConsultCarmedInterventionResponse.xml").read_bytes())
    )
    (carmed,) = response.carmeds
    assert (response.status, carmed.carmed_number, carmed.uma_attestation_number) == (
        SUCCESS,
        "123456789012",
        "UMA-0001",
    )


def test_the_selection_is_echoed_as_it_was_asked(world: Population) -> None:
    ssin = world.situation("mediprima-full").ssin
    for kwargs in ({"reference_date": TODAY}, {"period": (date(2026, 1, 1), TODAY)}):
        request = consult.parse_request(
            consult.build_request(ssin, version=2, request_id="_r", now=NOW, **kwargs)
        )
        answer = consult_carmed(request.query(None), world, TODAY)
        response = consult.build_response(request, answer, agreements={}, response_id="_a", now=NOW)
        echoed = response.find("SelectionCriteria/BySsin")
        assert echoed is not None
        assert [child.tag for child in echoed] == (
            ["Ssin", "ReferenceDate"] if "reference_date" in kwargs else ["Ssin", "Period"]
        )
        assert response.get("InResponseTo") == "_r"


@pytest.mark.parametrize(
    ("xml", "where"),
    [
        ("<mp:ConsultCarmedInterventionRequest {ns} Id='a' IssueInstant='2026-01-01T00:00:00Z'/>",
         "SelectionCriteria/BySsin: missing"),
        ("<mp:ConsultCarmedInterventionRequest {ns} Id='a' IssueInstant='2026-01-01T00:00:00Z'>"
         "<SelectionCriteria><BySsin><Ssin>1</Ssin><ReferenceDate>x</ReferenceDate></BySsin>"
         "</SelectionCriteria></mp:ConsultCarmedInterventionRequest>",
         "BySsin/ReferenceDate: 'x' is not a date"),
        ("<mp:ConsultCarmedInterventionRequest {ns} Id='a' IssueInstant='2026-01-01T00:00:00Z'>"
         "<mp:SelectionCriteria/></mp:ConsultCarmedInterventionRequest>",
         "children are unqualified"),
    ],
)  # fmt: skip
def test_broken_requests_say_what_and_where(xml: str, where: str) -> None:
    namespace = "xmlns:mp='urn:be:fgov:ehealth:mediprima:protocol:v2'"
    with pytest.raises(PayloadError, match=where):
        consult.parse_request(etree.fromstring(xml.format(ns=namespace)))


def test_our_schema_refuses_qualified_children(ours: ProjectSchemas) -> None:
    request = consult.build_request(
        "00011317652", version=1, request_id="_r", now=NOW, reference_date=TODAY
    )
    criteria = request[0]
    criteria.tag = f"{{{consult.protocol(1)}}}SelectionCriteria"
    assert ours.validate(_wire(request), "mediprima-v1-request") is not None


# -- UMA --------------------------------------------------------------------------------------

AUTHOR = uma.author_of("19999999001", "00000000097", "Peeters", "An")
ATTESTATION = UmaAttestation(
    "UMA-20261123-00000001", AUTHOR, "00011317652", TODAY, None, "DOCTOR", TODAY
)


def test_uma_requests_validate_and_read_back(
    official: OfficialSchemas, ours: ProjectSchemas
) -> None:
    send = SendUma(AUTHOR, "00011317652", TODAY, date(2026, 11, 30), "DOCTOR")
    built = uma.build_send_request(send, request_id="_s", now=NOW)
    _assert_valid(official, ours, built, "uma-request")
    assert uma.parse_send(_wire(built)) == ("_s", send)

    search = uma.SearchUma("00011317652", None, TODAY, None, "DOCTOR")
    built = uma.build_search_request(search, request_id="_q", now=NOW)
    _assert_valid(official, ours, built, "uma-request")
    assert uma.parse_search(_wire(built)) == ("_q", search)

    delete = uma.DeleteUma(AUTHOR, "00011317652", ATTESTATION.number)
    built = uma.build_delete_request(delete, request_id="_d", now=NOW)
    _assert_valid(official, ours, built, "uma-request")
    assert uma.parse_delete(_wire(built)) == ("_d", delete)


def test_uma_responses_validate_and_read_back(
    official: OfficialSchemas, ours: ProjectSchemas
) -> None:
    sent = uma.build_send_response(
        "_s", SUCCESS, attestation=ATTESTATION, error=None, response_id="_1", now=NOW
    )
    refused = uma.build_send_response(
        "_s", REQUESTER, attestation=None, error=error("DUPLICATE", "N1"), response_id="_2", now=NOW
    )
    found = uma.build_search_response(
        "_q", SUCCESS, attestations=[ATTESTATION] * 2, error=None, response_id="_3", now=NOW
    )
    deleted = uma.build_delete_response(
        "_d", SUCCESS, number=ATTESTATION.number, error=None, response_id="_4", now=NOW
    )
    for response in (sent, refused, found, deleted):
        _assert_valid(official, ours, response, "uma-response")
    back = uma.parse_response(_wire(sent)).attestations[0]
    assert dataclasses.replace(back, created=TODAY) == ATTESTATION
    assert uma.parse_response(_wire(refused)).error_codes == ("DUPLICATE",)
    assert len(uma.parse_response(_wire(found)).attestations) == 2
    assert uma.parse_response(_wire(deleted)).deleted_number == ATTESTATION.number
    assert sent.find("Attestion") is not None  # the schema's own spelling


def test_a_send_without_author_is_a_payload_error() -> None:
    built = uma.build_send_request(
        SendUma(AUTHOR, "00011317652", TODAY, None, "DOCTOR"), request_id="_s", now=NOW
    )
    built.remove(built[0])
    with pytest.raises(PayloadError, match="/SendUrgentMedicalAidAttestationRequest/Author"):
        uma.parse_send(built)


# -- CAAMI tarification -----------------------------------------------------------------------


def _blob(element: etree._Element, *path: str) -> etree._Element:
    detail = element.find("/".join(f"{{{PROTOCOL}}}{p}" for p in path))
    assert detail is not None and detail.text is not None
    return parse_xml(decode_blob(detail.text, detail.get("ContentEncoding", "none")))


@pytest.mark.parametrize("situation", MEDIPRIMA_SITUATIONS)
def test_tarification_validates_outside_and_inside(
    official: OfficialSchemas, ours: ProjectSchemas, world: Population, situation: str
) -> None:
    gp = world.providers_of_kind("GP")[0]
    request = caami.build_request(
        provider_nihii=gp.nihii,
        provider_ssin=gp.ssin,
        provider_type="persphysician",
        patient_ssin=world.situation(situation).ssin,
        encounter_date=TODAY,
        codes=["101032", "102432"],
        input_reference="20261123100001",
        issue_instant=NOW,
    )
    _assert_valid(official, ours, request, "tarification-request")
    inner = _blob(request, "Detail")
    assert official.validate(_wire(inner)) is None
    assert inner.get("messageProtocoleSchemaVersion") == "1.18"
    parsed = caami.parse_request(_wire(request))
    assert parsed.query.transaction_type == "tariffmediprima"

    outcome = consult_mediprima_tariff(parsed.query, world, TODAY)
    lines = tuple(
        dataclasses.replace(line, financial_contract="6002611230000001") for line in outcome.lines
    )
    outcome = dataclasses.replace(outcome, lines=lines)
    response = caami.build_response(parsed, outcome, response_id="_t1", now=NOW)
    _assert_valid(official, ours, response, "tarification-response")
    inner_answer = _blob(response, "Return", "Detail")
    violation = official.validate(_wire(inner_answer))
    assert violation is None, violation.describe()

    result = caami.parse_response(_wire(response))
    assert result.complete is outcome.accepted
    assert [e.code for e in result.errors] == [e.code for e in outcome.errors]
    assert [(r.code, r.reimbursement_fpssi, r.patient_fee) for r in result.lines] == [
        (o.code, o.reimbursement_fpssi, o.patient_fee) for o in outcome.lines
    ]


def test_every_mediprima_item_is_answered(world: Population) -> None:
    gp = world.providers_of_kind("GP")[0]
    patient = world.situation("mediprima-partial")
    (decision,) = patient.cpas_decisions
    request = caami.parse_request(
        caami.build_request(
            provider_nihii=gp.nihii,
            provider_ssin=gp.ssin,
            provider_type="persphysician",
            patient_ssin=patient.ssin,
            encounter_date=TODAY,
            codes=["101032"],
            input_reference="1",
            issue_instant=NOW,
        )
    )
    outcome = consult_mediprima_tariff(request.query, world, TODAY)
    response = caami.build_response(request, outcome, response_id="_t", now=NOW)
    transaction = _blob(response, "Return", "Detail").find(".//{*}folder/{*}transaction")
    assert transaction is not None
    kinds = [item.findtext("{*}cd") for item in transaction.iterfind("{*}item")]
    assert kinds == [
        "encounterdatetime",
        "claim",
        "fee",
        "reimbursement-fpssi",
        "reimbursement-pswc",
        "patientfee",
        "pswc",
        "mediprimanumber",
        "umc",
    ]
    assert transaction.findtext("{*}cd") == "tariffmediprima"
    (line,) = caami.parse_response(response).lines
    assert (line.pswc_cbe, line.mediprima_number, line.mediprima_version) == (
        decision.cpas.cbe,
        decision.carmed_number,
        str(decision.version),
    )
    assert line.fee == Decimal("30.00")
