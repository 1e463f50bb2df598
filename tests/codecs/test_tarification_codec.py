"""eTar codec against the official XSDs: request parsing, response building, client round trip."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from lxml import etree

from simulator.codecs import tarification as codec
from simulator.codecs.blob import encode_blob
from simulator.codecs.kmehr import KMEHR, MS_CORE, MS_PROTOCOL
from simulator.domain.tarification import (
    RuleError,
    TariffClaim,
    TariffLine,
    TarificationOutcome,
    TarificationQuery,
)
from simulator.soap.parser import parse_xml

if TYPE_CHECKING:
    from simulator.domain.population import Patient

NOW = datetime(2024, 1, 10, 10, 0, 1, tzinfo=UTC)
GP = "19999999001"
GP_SSIN = "00000000097"
HOLDER = "10000000004"
PATIENT_SSIN = "00011317652"
SAMPLES = "samples/reconstructed"


@pytest.fixture(scope="module")
def schemas(shared_reference: Path) -> tuple[etree.XMLSchema, etree.XMLSchema]:
    """(outer tarification protocol, inner messageservices + KMEHR 1.19), never from the net."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    xsd = shared_reference / "xsd"
    outer = xsd / "ehealth-mycarenet-tarification/XSD/mycarenet-tarification-protocol-1_0.xsd"
    inner = xsd / "ehealth-messageservices/XSD/messageservices_protocol-1_2.xsd"
    return (
        etree.XMLSchema(etree.parse(str(outer), parser)),
        etree.XMLSchema(etree.parse(str(inner), parser)),
    )


def _assert_valid(schema: etree.XMLSchema, element: etree._Element) -> None:
    # Validate the serialized form: what goes on the wire, not the in-memory tree.
    document = etree.fromstring(etree.tostring(element))
    assert schema.validate(document), str(schema.error_log)


def _blob(element: etree._Element, *path: str) -> etree._Element:
    detail = element.find("/".join(f"{{{codec.PROTOCOL}}}{p}" for p in path))
    assert detail is not None and detail.text is not None
    return parse_xml(base64.b64decode(detail.text))


# -- a stand-in Patient: population.py is another engineer's moving target --------------------


@dataclass(frozen=True)
class _Period:
    start: date
    end: date | None
    mutuality: str
    ct1: str
    ct2: str
    registration_number: str


@dataclass(frozen=True)
class _Patient:
    ssin: str = PATIENT_SSIN
    first_name: str = "Marie"
    last_name: str = "Peeters"
    sex: str = "female"
    birth_date: date = date(1980, 3, 17)
    death_date: date | None = None
    insurer: str = "300"
    mutuality: str = "317"
    registration_number: str = "31700012345"
    periods: tuple[_Period, ...] = field(
        default=(_Period(date(2023, 1, 1), date(2024, 12, 31), "317", "110", "110", "31700012345"),)
    )

    def period_on(self, day: date) -> _Period | None:
        return next(
            (p for p in self.periods if p.start <= day and (p.end is None or day <= p.end)), None
        )


def _request(*, codes: list[str] | None = None, gmd: str | None = HOLDER) -> etree._Element:
    return codec.build_request(
        provider_nihii=GP,
        provider_ssin=GP_SSIN,
        provider_type="persphysician",
        patient_ssin=PATIENT_SSIN,
        encounter_date=date(2024, 1, 10),
        codes=codes if codes is not None else ["101032", "101076"],
        gmd_manager=gmd,
        input_reference="20240110100000123",
        issue_instant=datetime(2024, 1, 10, 10, 0, 0, 123000, tzinfo=UTC),
    )


def _accepted() -> TarificationOutcome:
    lines = (
        TariffLine(
            "101032", Decimal("30.00"), Decimal("24.00"), Decimal("6.00"), False, "3002401100000001"
        ),
        TariffLine(
            "101076", Decimal("35.5"), Decimal("31.5"), Decimal("4"), True, "3002401100000002"
        ),
    )
    return TarificationOutcome(lines=lines, patient=cast("Patient", _Patient()), insurer="300")


def _rejected() -> TarificationOutcome:
    errors = (
        RuleError(
            "120", "/RetrieveTransactionRequest/select/patient/id", "Patient inconnu", "Onbekend"
        ),
        RuleError(
            "146", "/RetrieveTransactionRequest/select/transaction/item", "Date future", "Toekomst"
        ),
    )
    return TarificationOutcome(errors=errors, insurer="300")


# -- requests ----------------------------------------------------------------------------------


def test_the_reconstructed_sample_request_parses(shared_reference: Path) -> None:
    payload = parse_xml(
        (
            shared_reference / SAMPLES / "tarification-TarificationConsultationRequest.xml"
        ).read_bytes()
    )
    request = codec.parse_request(payload)
    assert (request.request_id, request.input_reference, request.is_test) == (
        "_t1",
        "2024101000000012",
        True,
    )
    query = request.query
    assert (query.envelope_provider_nihii, query.envelope_patient_ssin) == (GP, PATIENT_SSIN)
    # Its blob is an empty RetrieveTransactionRequest: every field missing, for the rules to report.
    assert (query.request_id, query.author_nihii, query.patient_ssin, query.encounter_date) == (
        None,
    ) * 4
    assert query.claims == ()


def test_build_request_validates_outside_and_inside(
    schemas: tuple[etree.XMLSchema, etree.XMLSchema],
) -> None:
    outer, inner = schemas
    request = _request()
    _assert_valid(outer, request)
    _assert_valid(inner, _blob(request, "Detail"))


def test_build_request_round_trips_into_the_same_query() -> None:
    request = codec.parse_request(_request())
    assert request.input_reference == "20240110100000123"
    assert request.kmehr_request.tag == f"{{{MS_PROTOCOL}}}RetrieveTransactionRequest"
    assert request.query == TarificationQuery(
        request_id=f"{GP}.20240110100000123",
        author_nihii=GP,
        author_type="persphysician",
        patient_ssin=PATIENT_SSIN,
        encounter_date="2024-01-10",
        claims=(TariffClaim("101032"), TariffClaim("101076")),
        gmd_manager_nihii=HOLDER,
        justification=None,
        transaction_type="tariff",
        envelope_provider_nihii=GP,
        envelope_patient_ssin=PATIENT_SSIN,
    )


DENTIST_BLOB = f"""<ms:RetrieveTransactionRequest xmlns:ms="{MS_PROTOCOL}" xmlns:c="{MS_CORE}"
    xmlns="{KMEHR}">
  <c:request><c:id S="ID-KMEHR" SV="1.0">30000000001.20240110</c:id>
    <c:author><hcparty><cd S="CD-HCPARTY" SV="1.1">application</cd></hcparty>
      <hcparty><id S="ID-HCPARTY" SV="1.0">30000000001</id>
        <cd S="CD-HCPARTY" SV="1.1">persdentist</cd></hcparty>
    </c:author><c:date>2024-01-10</c:date><c:time>10:00:00</c:time></c:request>
  <c:select><c:patient><c:id S="INSS" SV="1.0">{PATIENT_SSIN}</c:id></c:patient>
    <c:transaction><c:cd S="CD-TRANSACTION-MYCARENET" SV="1.1">tariff</c:cd>
      <c:item><id S="ID-KMEHR" SV="1.0">1</id><cd S="CD-ITEM" SV="1.0">claim</cd>
        <content><cd S="CD-NIHDI" SV="1.0">371011</cd></content>
        <content><cd S="CD-ISO-3950" SV="1.0">36</cd>
          <cd S="CD-NIHDI-RELATEDSERVICE" SV="1.0">371033</cd></content>
      </c:item>
      <c:item><id S="ID-KMEHR" SV="1.0">2</id><cd S="CD-ITEM" SV="1.0">justification</cd>
        <content><cd S="CD-MYCARENET-JUSTIFICATION" SV="1.0">1</cd></content></c:item>
    </c:transaction></c:select>
</ms:RetrieveTransactionRequest>""".encode()


def _with_blob(text: str, encoding: str | None) -> etree._Element:
    request = _request()
    detail = request.find(f"{{{codec.PROTOCOL}}}Detail")
    assert detail is not None
    detail.text = text
    if "HashValue" in detail.attrib:
        del detail.attrib["HashValue"]
    if encoding is None:
        del detail.attrib["ContentEncoding"]
    else:
        detail.set("ContentEncoding", encoding)
    return request


def test_dentist_claims_keep_tooth_related_service_and_justification(
    schemas: tuple[etree.XMLSchema, etree.XMLSchema],
) -> None:
    _assert_valid(schemas[1], parse_xml(DENTIST_BLOB))
    # No ContentEncoding attribute: the XSD default, deflate, applies.
    query = codec.parse_request(_with_blob(encode_blob(DENTIST_BLOB, "deflate"), None)).query
    assert query.claims == (TariffClaim("371011", tooth="36", related_service="371033"),)
    assert (query.author_nihii, query.author_type) == ("30000000001", "persdentist")
    assert (query.patient_ssin, query.justification, query.encounter_date) == (
        PATIENT_SSIN,
        "1",
        None,
    )


XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<RetrieveTransactionRequest>&x;</RetrieveTransactionRequest>"""


@pytest.mark.parametrize(
    ("text", "encoding", "message"),
    [
        ("%%% not base64 %%%", "none", "Detail: not base64"),
        (encode_blob(DENTIST_BLOB, "none"), "deflate", "Detail: not deflate data"),
        (
            encode_blob(b"tariff please", "none"),
            "none",
            "Detail: blob content is not acceptable XML",
        ),
        (
            encode_blob(b"<SendTransactionRequest/>", "none"),
            "none",
            "must be a messageservices RetrieveTransactionRequest",
        ),
        (
            encode_blob(b'<RetrieveTransactionRequest xmlns="urn:other"/>', "none"),
            "none",
            "RetrieveTransactionRequest",
        ),
        (encode_blob(XXE, "none"), "none", "DOCTYPE declaration is not allowed"),
    ],
    ids=["base64", "deflate", "not-xml", "wrong-root", "wrong-namespace", "xxe"],
)
def test_broken_blobs_are_payload_errors_that_say_where(
    text: str, encoding: str, message: str
) -> None:
    with pytest.raises(codec.PayloadError, match=message) as caught:
        codec.parse_request(_with_blob(text, encoding))
    assert str(caught.value).startswith("/TarificationConsultationRequest/Detail")
    assert "root:" not in str(caught.value)  # nothing of /etc/passwd leaks into the message


def test_a_request_without_detail_or_with_another_root_is_refused() -> None:
    request = _request()
    detail = request.find(f"{{{codec.PROTOCOL}}}Detail")
    assert detail is not None
    request.remove(detail)
    with pytest.raises(codec.PayloadError, match="Detail: missing"):
        codec.parse_request(request)
    with pytest.raises(codec.PayloadError, match="expected"):
        codec.parse_request(etree.Element(f"{{{codec.NAMESPACE}}}TarificationConsultationResponse"))


# -- responses ---------------------------------------------------------------------------------


def _respond(outcome: TarificationOutcome, request: etree._Element | None = None) -> etree._Element:
    parsed = codec.parse_request(request if request is not None else _request())
    return codec.build_response(parsed, outcome, response_id="_resp1", issue_instant=NOW, now=NOW)


@pytest.mark.parametrize("outcome", [_accepted(), _rejected()], ids=["accepted", "rejected"])
def test_responses_validate_outside_and_inside(
    schemas: tuple[etree.XMLSchema, etree.XMLSchema], outcome: TarificationOutcome
) -> None:
    outer, inner = schemas
    response = _respond(outcome)
    _assert_valid(outer, response)
    _assert_valid(inner, _blob(response, "Return", "Detail"))


def test_an_incomplete_request_is_echoed_rebuilt_so_the_answer_stays_valid(
    schemas: tuple[etree.XMLSchema, etree.XMLSchema], shared_reference: Path
) -> None:
    sample = parse_xml(
        (
            shared_reference / SAMPLES / "tarification-TarificationConsultationRequest.xml"
        ).read_bytes()
    )
    response = _respond(_rejected(), sample)
    _assert_valid(schemas[0], response)
    _assert_valid(schemas[1], _blob(response, "Return", "Detail"))


def test_a_request_block_with_a_bad_date_is_echoed_rebuilt(
    schemas: tuple[etree.XMLSchema, etree.XMLSchema],
) -> None:
    inner = _blob(_request(), "Detail")
    sent_date = inner.find(f"{{{MS_CORE}}}request/{{{MS_CORE}}}date")
    assert sent_date is not None
    sent_date.text = "10/01/2024"  # not an xs:date: echoing it verbatim would break our answer
    response = _respond(_accepted(), _with_blob(encode_blob(etree.tostring(inner), "none"), "none"))
    answer = _blob(response, "Return", "Detail")
    _assert_valid(schemas[1], answer)
    echoed = f"{{{MS_CORE}}}response/{{{MS_CORE}}}request/{{{MS_CORE}}}"
    assert answer.findtext(echoed + "id") == f"{GP}.20240110100000123"
    assert answer.findtext(echoed + "date") == "2024-01-10"


def test_the_response_answers_the_request_it_is_about() -> None:
    sent = _request()
    response = _respond(_accepted(), sent)
    assert response.get("InResponseTo") == sent.get("Id")
    assert response.get("Id") == "_resp1"
    output = f"{{{codec.PROTOCOL}}}Return/{{{codec.PROTOCOL}}}CommonOutput/{{{codec.CORE}}}"
    assert response.findtext(output + "InputReference") == "20240110100000123"
    echoed = _blob(response, "Return", "Detail").find(
        f"{{{MS_CORE}}}response/{{{MS_CORE}}}request/{{{MS_CORE}}}id"
    )
    assert echoed is not None and echoed.text == f"{GP}.20240110100000123"


def test_the_client_reads_back_lines_patient_and_insurability() -> None:
    result = codec.parse_response(_respond(_accepted()))
    assert result.complete and result.errors == ()
    assert result.lines == (
        codec.ResultLine(
            "101032", Decimal("30.00"), Decimal("24.00"), Decimal("6.00"), "3002401100000001"
        ),
        codec.ResultLine(
            "101076", Decimal("35.50"), Decimal("31.50"), Decimal("4.00"), "3002401100000002"
        ),
    )
    assert (result.patient_ssin, result.ct1, result.ct2) == (PATIENT_SSIN, "110", "110")


def test_the_client_reads_back_rejections_without_lines() -> None:
    result = codec.parse_response(_respond(_rejected()))
    assert not result.complete
    assert result.lines == () and result.patient_ssin is None
    assert result.errors == (
        codec.ResultError(
            "120", "/RetrieveTransactionRequest/select/patient/id", "Patient inconnu"
        ),
        codec.ResultError(
            "146", "/RetrieveTransactionRequest/select/transaction/item", "Date future"
        ),
    )


def test_the_answer_blob_carries_the_hash_of_its_content() -> None:
    response = _respond(_accepted())
    detail = response.find(f"{{{codec.PROTOCOL}}}Return/{{{codec.PROTOCOL}}}Detail")
    assert detail is not None and detail.text is not None
    digest = hashlib.sha256(base64.b64decode(detail.text)).digest()
    assert detail.get("HashValue") == base64.b64encode(digest).decode()


def test_lines_rendered_once_still_carry_their_own_insurer_code_and_amounts() -> None:
    # The author/claim/amount part of a line is rendered once per (insurer, code, amounts):
    # answers that differ in any of them must not share it.
    def line(code: str, fee: str, contract: str) -> TariffLine:
        return TariffLine(code, Decimal(fee), Decimal("24.00"), Decimal("6.00"), False, contract)

    def priced(insurer: str, *lines: TariffLine) -> list[tuple[str | None, ...]]:
        outcome = TarificationOutcome(
            lines=lines, patient=cast("Patient", _Patient()), insurer=insurer
        )
        message = _blob(_respond(outcome), "Return", "Detail")
        found = []
        for transaction in message.iter(f"{{{KMEHR}}}transaction"):
            found.append(
                (
                    transaction.findtext(f"{{{KMEHR}}}author/{{{KMEHR}}}hcparty/{{{KMEHR}}}id"),
                    transaction.findtext(f".//{{{KMEHR}}}content/{{{KMEHR}}}cd"),
                    transaction.findtext(f".//{{{KMEHR}}}cost/{{{KMEHR}}}decimal"),
                    transaction.findtext(f".//{{{KMEHR}}}content/{{{KMEHR}}}id"),
                )
            )
        return found

    first = line("101032", "30.00", "3002401100000001")
    assert priced("300", first, line("101032", "30.00", "3002401100000002")) == [
        ("300", "101032", "30.00", "3002401100000001"),
        ("300", "101032", "30.00", "3002401100000002"),
    ]
    assert priced("500", first, line("101054", "31.00", "5002401100000003")) == [
        ("500", "101032", "30.00", "3002401100000001"),
        ("500", "101054", "31.00", "5002401100000003"),
    ]
