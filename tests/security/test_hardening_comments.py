"""Issue 11, item 2: a comment inside a signed value changes neither the signature nor the
value read, and identities come from the token, not from what the request writes."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from lxml import etree

from simulator.codecs import uma as uma_codec
from simulator.codecs.mycarenet_commons import V3, read_common_input
from simulator.security.saml import SamlAttribute, build_assertion, parse_and_verify_assertion
from simulator.server.exchange import Caller, Exchange
from simulator.services.authority import NotTheCaller, acting_nihii, certified_nihii
from simulator.soap.parser import parse_xml
from simulator.soap.text import find_text, text_value
from tests.security.keys import NOW, SAML1, pki

NIHII_NAME = "urn:be:fgov:person:ssin:ehealth:1.0:doctor:nihii11"
NIHII = "10185748004"


@pytest.mark.parametrize(
    "markup",
    [
        f"<v>{NIHII}</v>",
        f"<v><!---->{NIHII}</v>",
        "<v>1018<!-- x -->5748004</v>",
        "<v>1018<?pi x?>5748<!---->004<!---->\n</v>".replace("\n", ""),
        "<v><![CDATA[1018]]>5748004</v>",
    ],
)
def test_text_value_is_what_c14n_signs(markup: str) -> None:
    element = parse_xml(markup.encode())
    assert text_value(element) == NIHII
    canonical = etree.tostring(element, method="c14n", exclusive=True, with_comments=False)
    assert NIHII.encode() in canonical.replace(b"<?pi x?>", b"")


def test_text_value_of_nothing() -> None:
    root = parse_xml(b"<r><e/></r>")
    assert text_value(None) is None
    assert find_text(root, "missing") is None
    assert find_text(root, "e") == ""


@pytest.mark.parametrize("position", ["first", "inside"])
def test_a_comment_in_a_signed_saml_value_keeps_the_signature_and_the_value(position: str) -> None:
    sts, holder = pki().sts, pki().doctor
    assertion = build_assertion(
        subject_cert=holder.cert,
        subject_name="CN=doctor",
        attributes=[SamlAttribute(NIHII_NAME, "urn:be:fgov:certified-namespace:ehealth", (NIHII,))],
        issue_instant=NOW,
        not_before=NOW,
        not_on_or_after=NOW + timedelta(hours=1),
        signer_key=sts.key,
        signer_cert=sts.cert,
    )
    forged = copy.deepcopy(assertion)
    value = next(forged.iter(f"{{{SAML1}}}AttributeValue"))
    comment = etree.Comment("")
    if position == "first":
        comment.tail, value.text = value.text, None
        value.insert(0, comment)
    else:
        value.text, comment.tail = NIHII[:4], NIHII[4:]
        value.append(comment)
    reparsed = parse_xml(etree.tostring(forged))
    verified = parse_and_verify_assertion(reparsed, sts_cert=sts.cert, now=NOW, cache=None)
    assert dict(verified.attributes)[NIHII_NAME] == (NIHII,)


def test_common_input_reads_the_nihii_through_comments() -> None:
    core, protocol = V3.core, V3.protocol
    request = parse_xml(
        f"""<r xmlns:p="{protocol}" xmlns:c="{core}"><p:CommonInput>
        <c:Request><c:IsTest>t<!---->rue</c:IsTest></c:Request>
        <c:Origin><c:CareProvider><c:Nihii><c:Quality>doctor</c:Quality>
        <c:Value><!---->{NIHII}</c:Value></c:Nihii></c:CareProvider></c:Origin>
        </p:CommonInput></r>""".encode()
    )
    common = read_common_input(request, V3)
    assert (common.provider_nihii, common.is_test) == (NIHII, True)


def test_the_uma_author_is_read_through_comments() -> None:
    core = uma_codec.COMMONS_CORE
    request = parse_xml(
        f"""<u:DeleteUrgentMedicalAidAttestationRequest xmlns:u="{uma_codec.PROTOCOL}"
        xmlns:p="{uma_codec.COMMONS_PROTOCOL}" xmlns:c="{core}"><p:Author><c:HcParty>
        <c:Id Type="{uma_codec.NIHII_TYPE}"><!---->{NIHII}</c:Id><c:Name>B</c:Name>
        </c:HcParty></p:Author><BeneficiarySsin><!---->85073003328</BeneficiarySsin>
        <AttestationNumber>UMA-<!---->1</AttestationNumber>
        </u:DeleteUrgentMedicalAidAttestationRequest>""".encode()
    )
    _, delete = uma_codec.parse_delete(request)
    assert delete.author[0].nihii == NIHII
    assert (delete.beneficiary_ssin, delete.number) == ("85073003328", "UMA-1")


# -- authority --------------------------------------------------------------------------------


def _exchange(verdict: str, nihii: str | None) -> Exchange:
    exchange = Exchange(path="/", soap_action=None, body=b"", received_at=NOW)
    exchange.security = {"verdict": verdict}
    exchange.caller = Caller(nihii=nihii)
    return exchange


def test_a_verified_token_decides_who_acts() -> None:
    assert acting_nihii(_exchange("valid", NIHII), None, "/Origin") == NIHII
    assert acting_nihii(_exchange("valid", NIHII), NIHII, "/Origin") == NIHII
    with pytest.raises(NotTheCaller, match="names NIHII 19999999001 but the SAML token"):
        acting_nihii(_exchange("valid", NIHII), "19999999001", "/Origin")


@pytest.mark.parametrize("token_nihii", [None, ""])
def test_a_verified_token_without_nihii_acts_for_nobody(token_nihii: str | None) -> None:
    """The former fallback: a token read as certifying "" let the request name anyone."""
    with pytest.raises(NotTheCaller, match="certifies no NIHII"):
        acting_nihii(_exchange("valid", token_nihii), "19999999001", "/Origin")
    with pytest.raises(NotTheCaller):
        certified_nihii(_exchange("valid", token_nihii))


@pytest.mark.parametrize("verdict", ["not-checked", "rejected"])
def test_without_a_verified_token_the_claim_is_all_there_is(verdict: str) -> None:
    assert acting_nihii(_exchange(verdict, None), "19999999001", "/Origin") == "19999999001"
    assert certified_nihii(_exchange(verdict, None)) is None
