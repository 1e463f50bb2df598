"""GenAsync codec: every built message validates against the official v1 XSD and parses back."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest
from lxml import etree

from simulator.codecs import genasync as codec
from simulator.codecs.blob import encode_blob
from simulator.codecs.mycarenet_commons import PayloadError
from simulator.soap.parser import parse_xml
from simulator.soap.validation import OfficialSchemas, ProjectSchemas

ORIGIN = codec.Origin(
    package_name="Vendor Soft",
    license_username="lic-user",
    license_password="lic-pass",
    provider_quality="doctor",
    provider_nihii="19999999001",
    person_name="Jane Doe",
    person_ssin="00000000097",
)
COMMON = codec.CommonInput(is_test=True, origin=ORIGIN, input_reference="20240000000001")
CONTENT = b"920000" + b"0" * 600


@pytest.fixture(scope="module")
def official(shared_reference: Path) -> OfficialSchemas:
    return OfficialSchemas(shared_reference / "xsd")


def _valid(official: OfficialSchemas, element: etree._Element) -> None:
    # Through text, as on the wire: lxml-built trees can hide namespace slips.
    reparsed = parse_xml(etree.tostring(element))
    assert official.schema_for(reparsed) is not None, reparsed.tag
    violation = official.validate(reparsed)
    assert violation is None, violation.describe()
    own = ProjectSchemas()
    kind = (
        "genasync-request"
        if reparsed.tag in (codec.POST, codec.GET, codec.CONFIRM)
        else ("genasync-response")
    )
    own_violation = own.validate(reparsed, kind)
    assert own_violation is None, own_violation.describe()


def _all_messages() -> list[etree._Element]:
    tack = codec.TAck(
        content=codec.tack_content(CONTENT, codec.RESULT_SUCCESS),
        issuer="urn:nip:issuer:io:300",
        applies_to="urn:nip:reference:input:20240000000001",
        id="_t1",
        reference="r1",
    )
    message = codec.MsgResponse(
        codec.CommonOutput("20240000000001", "nip-1", "out-1"),
        codec.Blob(CONTENT, "HCPFAC", id="_m1", reference="m1", issuer="urn:nip:issuer:io:300"),
        b"<ds:Signature/>",
    )
    return [
        codec.build_post(COMMON, codec.Blob(CONTENT, "HCPFAC", id="blob"), xades=b"<sig/>"),
        codec.build_post_response(tack),
        codec.build_get(
            codec.GetRequest(
                ORIGIN,
                codec.Query(True, 64),
                ("HCPFAC", "HCPAFD", "HCPVWR"),
                codec.Query(False, 10),
                include_ios=("300",),
                exclude_ios=(),
                query_reference="q1",
            )
        ),
        codec.build_get_response(
            codec.GetResponse((message,), (codec.TAckResponse(tack, b"<sig/>"),))
        ),
        codec.build_get_response(codec.GetResponse((), ())),
        codec.build_confirm(
            codec.ConfirmRequest(
                ORIGIN,
                msg_hash_values=(hashlib.sha256(CONTENT).digest(),),
                msg_references=("m1", "m2"),
                tack_contents=(tack.content,),
                tack_references=("r1",),
            )
        ),
        codec.build_confirm(codec.ConfirmRequest(ORIGIN)),
        codec.build_confirm_response(),
        codec.build_fault(
            codec.Fault(
                "INPUT_ERROR",
                "MYCARENET",
                "bad MessageName",
                (codec.FaultDetail("SOA-03007", "MYCARENET", "/post/Detail/@MessageName", "x"),),
            )
        ),
    ]


@pytest.mark.parametrize("index", range(9))
def test_every_built_message_is_valid_against_the_official_v1_schema(
    official: OfficialSchemas, index: int
) -> None:
    _valid(official, _all_messages()[index])


def test_the_official_samples_are_valid_for_our_own_schema(shared_reference: Path) -> None:
    own = ProjectSchemas()
    for name, kind in (
        ("post", "genasync-request"),
        ("get", "genasync-request"),
        ("confirm", "genasync-request"),
        ("postResponse", "genasync-response"),
        ("getResponse", "genasync-response"),
        ("fault-detail", "genasync-response"),
    ):
        sample = shared_reference / "samples" / "reconstructed" / f"genasync-{name}.xml"
        violation = own.validate(parse_xml(sample.read_bytes()), kind)
        assert violation is None, f"{name}: {violation.describe()}"


def test_post_round_trip_and_the_sample_post_parses(shared_reference: Path) -> None:
    built = codec.build_post(COMMON, codec.Blob(CONTENT, "HCPFAC", id="blob"), xades=b"<sig/>")
    parsed = codec.parse_post(parse_xml(etree.tostring(built)))
    assert parsed.common == COMMON
    assert parsed.detail.content == CONTENT
    assert parsed.xades == b"<sig/>"
    sample = parse_xml((shared_reference / "samples/reconstructed/genasync-post.xml").read_bytes())
    post = codec.parse_post(sample)
    assert post.detail.message_name == "HCPFAC"
    assert post.common.origin.provider_nihii == "19999999001"
    assert post.detail.content.startswith(b"920000")  # the CIN test file, raw-deflated


def test_get_and_confirm_round_trip() -> None:
    request = codec.GetRequest(ORIGIN, codec.Query(True, 5), ("HCPFAC",), codec.Query(False, 0))
    assert codec.parse_get(codec.build_get(request)) == request
    confirm = codec.ConfirmRequest(ORIGIN, (b"\x01" * 32,), ("a",), (b"\x02" * 32,), ("b",))
    assert codec.parse_confirm(codec.build_confirm(confirm)) == confirm


def test_get_response_carries_the_hash_of_the_inflated_content() -> None:
    message = codec.MsgResponse(codec.CommonOutput(), codec.Blob(CONTENT, "HCPAFD", id="_x"), b"s")
    built = codec.build_get_response(codec.GetResponse((message,), ()))
    detail = built.find(f".//{{{codec.GA}}}Detail")
    assert detail is not None
    assert detail.get("HashValue") == base64.b64encode(hashlib.sha256(CONTENT).digest()).decode()
    assert detail.get("ContentEncoding") == "deflate"
    assert base64.b64decode(detail.text or "") != CONTENT  # deflated on the wire
    (parsed,) = codec.parse_get_response(built).messages
    assert parsed.detail.content == CONTENT


def test_tack_content_is_the_hmac_keyed_with_the_result_major() -> None:
    success = codec.tack_content(CONTENT, codec.RESULT_SUCCESS)
    assert success == hmac.new(codec.RESULT_SUCCESS.encode(), CONTENT, hashlib.sha256).digest()
    assert success != codec.tack_content(CONTENT, codec.RESULT_FAILURE)


def test_a_wrong_hash_value_is_refused_with_its_location() -> None:
    post = codec.build_post(COMMON, codec.Blob(CONTENT, "HCPFAC", id="blob"))
    post[1].set("HashValue", base64.b64encode(b"\0" * 32).decode())
    with pytest.raises(PayloadError, match=r"/post/Detail/@HashValue"):
        codec.parse_post(post)


def test_missing_message_name_and_bad_max_are_refused() -> None:
    post = codec.build_post(COMMON, codec.Blob(CONTENT, "HCPFAC", id="blob"))
    del post[1].attrib["MessageName"]
    with pytest.raises(PayloadError, match=r"/post/Detail/@MessageName"):
        codec.parse_post(post)
    get = codec.build_get(codec.GetRequest(ORIGIN, codec.Query(), (), codec.Query()))
    get.find(f"{{{codec.GA}}}MsgQuery/{{{codec.GA}}}Max").text = "lots"  # type: ignore[union-attr]
    with pytest.raises(PayloadError, match=r"/get/MsgQuery/Max"):
        codec.parse_get(get)


def test_a_deflate_bomb_is_refused() -> None:
    post = codec.build_post(COMMON, codec.Blob(b"x", "HCPFAC", id="blob"))
    post[1].text = encode_blob(b"\0" * (21 * 1024 * 1024), "deflate")
    with pytest.raises(PayloadError, match="limit"):
        codec.parse_post(post)


def test_fault_round_trip() -> None:
    fault = codec.Fault("INPUT_ERROR", "MYCARENET", "m", (codec.FaultDetail("c", "s", "/x", "y"),))
    assert codec.parse_fault(codec.build_fault(fault)) == fault
