"""MemberData codec against the official XSDs: what the client sends and what the insurer answers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree

from simulator.codecs import memberdata as codec
from simulator.codecs.mycarenet_commons import CommonInput, PayloadError
from simulator.domain.memberdata import (
    INSURABILITY,
    SSIN_FORMAT,
    SUCCESS,
    FacetRequest,
    consult_member_data,
)
from simulator.domain.population import build_population
from simulator.soap.validation import ProjectSchemas

pytestmark = pytest.mark.interop
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
COMMON = CommonInput(True, "20261123100000123", "vendor", "doctor", "10394044003", "62040858223")
FACET = FacetRequest(INSURABILITY, (("requestType", "information"), ("contactType", "other")))


def _schema(path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(path), parser))


@pytest.fixture(scope="module")
def official(shared_reference: Path) -> tuple[etree.XMLSchema, etree.XMLSchema]:
    xsd = shared_reference / "xsd"
    return (
        _schema(xsd / "ehealth-mycarenet-memberdata/XSD/mycarenet-memberdata-protocol-1_0.xsd"),
        _schema(xsd / "mycarenet-memberdata/XSD/Extensions-simplified.xsd"),
    )


def _valid(schema: etree.XMLSchema, element: etree._Element) -> None:
    assert schema.validate(element), schema.error_log.last_error


def _query_bytes(ssin: str) -> bytes:
    return codec.build_attribute_query(
        requester_nihii="10394044003",
        subject=ssin,
        subject_format=SSIN_FORMAT,
        facets=[FACET],
        start=datetime(2026, 11, 23),
        end=datetime(2026, 11, 24),
        query_id="_20261123100000123",
        now=NOW,
    )


def test_the_client_request_is_valid_and_reads_back(
    official: tuple[etree.XMLSchema, etree.XMLSchema],
) -> None:
    protocol, saml = official
    query_bytes = _query_bytes("93062644690")
    request = codec.build_request(
        COMMON, query_bytes, content_encryption=None, request_id="_r1", now=NOW
    )
    _valid(protocol, request)
    assert ProjectSchemas().validate(request, "memberdata-request") is None
    _valid(saml, etree.fromstring(query_bytes))
    parsed = codec.parse_request(etree.fromstring(etree.tostring(request)))
    assert parsed.common == COMMON
    query = codec.read_attribute_query(parsed.detail.content, parsed.common)
    assert (query.issuer, query.name_id, query.facets) == ("10394044003", "93062644690", (FACET,))
    assert query.extensions_typed and not query.has_attributes
    assert query.not_before == "2026-11-23T00:00:00"


def test_the_reconstructed_sample_payload_reads(shared_reference: Path) -> None:
    data = (
        shared_reference / "samples/reconstructed/memberdata-AttributeQuery-payload.xml"
    ).read_bytes()
    query = codec.read_attribute_query(data, COMMON)
    assert query.name_id_format == SSIN_FORMAT
    assert [f.id for f in query.facets] == [
        "urn:be:cin:nippin:insurability",
        "urn:be:cin:nippin:globalMedicalFile",
    ]
    assert query.facets[0].dimension("contactType") == "other"


def test_answers_are_valid_and_read_back(official: tuple[etree.XMLSchema, etree.XMLSchema]) -> None:
    protocol, saml = official
    world = build_population(seed=3, patients=40, providers=4, today=TODAY)
    for ssin in (world.patients[0].ssin, world.unknown_ssin()):
        query = codec.read_attribute_query(_query_bytes(ssin), COMMON)
        answer = consult_member_data(query, world, TODAY)
        inner = codec.build_saml_response(answer, query, now=NOW)
        request = codec.parse_request(
            codec.build_request(COMMON, b"<x/>", content_encryption=None, request_id="_r1", now=NOW)
        )
        outer = codec.build_response(
            request, inner, content_encryption=None, response_id="_a1", now=NOW
        )
        _valid(protocol, outer)
        assert ProjectSchemas().validate(outer, "memberdata-response") is None
        # The published extension schema lacks the AdviceType real answers use (wire-formats
        # 2.1): without that xsi:type, the rest of the answer must validate.
        document = etree.fromstring(inner)
        for advice in document.iter(f"{{{codec.SAML}}}Advice"):
            del advice.attrib[f"{{{codec.XSI}}}type"]
        _valid(saml, document)
        result = codec.read_saml_response(codec.parse_response_detail(outer).content)
        assert result.status == answer.status
        assert len(result.blocks) == len(answer.blocks)
        if answer.status == SUCCESS:
            assert (
                result.attributes("urn:be:cin:nippin:insurability:patientData")[0][
                    "urn:be:fgov:person:ssin"
                ]
                == ssin
            )
        else:
            assert result.detail_codes == ("UNKNOWN_NISS_ROUTING",)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not xml", "not XML"),
        (
            b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>",
            "expected samlp:AttributeQuery",
        ),
        (b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>", "not XML"),
    ],
)
def test_a_broken_business_payload_says_what_is_wrong(data: bytes, says: str) -> None:
    with pytest.raises(PayloadError, match=says):
        codec.read_attribute_query(data, COMMON)


def test_a_wrong_hash_value_is_refused() -> None:
    request = codec.build_request(
        COMMON, _query_bytes("93062644690"), content_encryption=None, request_id="_r1", now=NOW
    )
    detail = request.find(f"{{{codec.V3.protocol}}}Detail")
    assert detail is not None
    detail.set("HashValue", "AAAA")
    with pytest.raises(PayloadError, match="HashValue"):
        codec.parse_request(request)


def _fault_schema(shared_reference: Path, tmp_path: Path) -> etree.XMLSchema:
    """A one-element schema, `sup:Fault` of the official types:FaultType, importing the CIN
    commonTypes bundled with the GenAsync WSDL in place."""
    types = shared_reference / "mycarenet/genasync/wsdl/commonTypes-v1.4.xsd"
    wrapper = tmp_path / "fault.xsd"
    wrapper.write_text(
        f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="{codec.TYPES}"
            targetNamespace="{codec.SUPPORT}" elementFormDefault="qualified">
          <xs:import namespace="{codec.TYPES}" schemaLocation="{types.as_uri()}"/>
          <xs:element name="Fault" type="t:FaultType"/>
        </xs:schema>"""
    )
    return _schema(wrapper)


def test_a_refusal_carries_the_insurers_fault_shape(shared_reference: Path, tmp_path: Path) -> None:
    """StatusDetail/Fault as in the real answer FHC keeps (`ValidatorTest.kt`): FaultCode,
    FaultSource, Message, Details/Detail{DetailCode, DetailSource, Location, Message}."""
    from simulator.domain.memberdata import MemberDataAnswer, status_detail

    refusal = status_detail("MISMATCHED_CONTACTTYPE")
    answer = MemberDataAnswer(status=refusal.status, details=(refusal,), insurer="500")
    query = codec.read_attribute_query(
        codec.build_attribute_query(
            requester_nihii="10394044003", subject="62040858223", subject_format=SSIN_FORMAT,
            facets=[FACET], start=NOW, end=NOW, query_id="_q1", now=NOW,
        ),
        COMMON,
    )  # fmt: skip
    document = etree.fromstring(codec.build_saml_response(answer, query, now=NOW))
    faults = document.findall(f"{{{codec.SAMLP}}}Status/{{{codec.SAMLP}}}StatusDetail/*")
    assert [f.tag for f in faults] == [f"{{{codec.SUPPORT}}}Fault"]
    fault = faults[0]
    _fault_schema(shared_reference, tmp_path).assertValid(fault)
    t = f"{{{codec.TYPES}}}"
    assert fault.findtext(f"{t}FaultCode") == "INPUT_ERROR"
    assert fault.findtext(f"{t}FaultSource") == "IO-BE-500"
    detail = fault.find(f"{t}Details/{t}Detail")
    assert detail is not None
    assert detail.findtext(f"{t}DetailCode") == "MISMATCHED_CONTACTTYPE"
    assert detail.findtext(f"{t}DetailSource") == "Insurability"
    assert detail.findtext(f"{t}Location") == (
        "/*:AttributeQuery/*:Extensions/*:Facet[@id='urn:be:cin:nippin:insurability']"
        "/*:Dimension[@id='contactType']"
    )
    # FHC resolves Location with XPath against its own AttributeQuery: it must point at it.
    sent = etree.fromstring(
        codec.build_attribute_query(
            requester_nihii="10394044003", subject="62040858223", subject_format=SSIN_FORMAT,
            facets=[FACET], start=NOW, end=NOW, query_id="_q1", now=NOW,
        )
    )  # fmt: skip
    xpath = (detail.findtext(f"{t}Location") or "").replace("*:", "*[local-name()='")
    xpath = "/".join(
        part + "']" if part.startswith("*[local-name()='") and "[@" not in part
        else part.replace("[@", "'][@") for part in xpath.split("/")
    )  # fmt: skip
    found = sent.getroottree().xpath(xpath)
    assert found and found[0].text == "other"
    assert codec.read_saml_response(etree.tostring(document)).detail_codes == (
        "MISMATCHED_CONTACTTYPE",
    )


def test_the_async_lists_follow_the_extension_schema(
    official: tuple[etree.XMLSchema, etree.XMLSchema],
) -> None:
    """AttributeQueryList in, ResponseList out (async MemberData, Extensions-simplified.xsd)."""
    _, saml = official
    world = build_population(seed=3, patients=40, providers=4, today=TODAY)
    ssins = [p.ssin for p in world.patients[:2]]
    data = codec.build_attribute_query_list(
        [_query_bytes(ssin).replace(b"_2026", f"_{n}".encode()) for n, ssin in enumerate(ssins)]
    )
    _valid(saml, etree.fromstring(data))
    queries = codec.read_attribute_query_list(data, COMMON)
    assert [q.name_id for q in queries] == ssins
    responses = [
        codec.saml_response_element(consult_member_data(q, world, TODAY), q, now=NOW)
        for q in queries
    ]
    document = etree.fromstring(codec.build_response_list(responses))
    for advice in document.iter(f"{{{codec.SAML}}}Advice"):  # AdviceType is not published
        del advice.attrib[f"{{{codec.XSI}}}type"]
    _valid(saml, document)
    results = codec.read_response_list(etree.tostring(document))
    assert [r.in_response_to for r in results] == ["_01123100000123", "_11123100000123"]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (f'<ext:AttributeQueryList xmlns:ext="{codec.EXT}"/>'.encode(), "1 to 10000"),
        (
            f'<ext:AttributeQueryList xmlns:ext="{codec.EXT}"><x/></ext:AttributeQueryList>'.encode(),
            "expected samlp:AttributeQuery",
        ),
        (b"<samlp:AttributeQuery xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>", "List"),
        (b"no xml", "not XML"),
    ],
)
def test_a_broken_query_list_says_what_is_wrong(data: bytes, says: str) -> None:
    with pytest.raises(PayloadError, match=says):
        codec.read_attribute_query_list(data, COMMON)
