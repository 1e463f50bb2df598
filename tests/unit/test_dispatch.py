import pytest
from lxml import etree

from simulator.services.registry import Operation, Registry, normalise_soap_action
from simulator.soap.faults import SoapFault


async def handler(sim, exchange):  # pragma: no cover - never called here
    raise AssertionError


SEND = Operation(
    "eattest",
    "SendAttestation",
    "/MyCareNet/eAttest/v3",
    "{urn:a}SendAttestationRequest",
    frozenset({"urn:a:SendAttestation"}),
    handler,
)
CANCEL = Operation(
    "eattest",
    "CancelAttestation",
    "/MyCareNet/eAttest/v3",
    "{urn:a}CancelAttestationRequest",
    frozenset({"urn:a:CancelAttestation"}),
    handler,
)
MEMBER = Operation(
    "memberdata",
    "MemberDataConsultation",
    "/MyCareNet/MemberData/v1",
    "{urn:m}Req",
    frozenset({"", "urn:m:Consult"}),
    handler,
)
REGISTRY = Registry([SEND, CANCEL, MEMBER])


def payload(tag):
    return etree.Element(tag)


def test_picks_the_operation_by_path_and_body_root():
    assert (
        REGISTRY.resolve(
            "/MyCareNet/eAttest/v3",
            "urn:a:CancelAttestation",
            payload("{urn:a}CancelAttestationRequest"),
        )
        is CANCEL
    )
    assert REGISTRY.resolve("/MyCareNet/MemberData/v1", None, payload("{urn:m}Req")) is MEMBER
    assert (
        REGISTRY.resolve("/MyCareNet/MemberData/v1", "urn:m:Consult", payload("{urn:m}Req"))
        is MEMBER
    )


@pytest.mark.parametrize(
    ("path", "action", "tag", "status", "fragment"),
    [
        (
            "/nowhere",
            "x",
            "{urn:a}SendAttestationRequest",
            404,
            "no service is published at /nowhere",
        ),
        (
            "/MyCareNet/eAttest/v3",
            "urn:a:SendAttestation",
            "{urn:a}Other",
            500,
            "is not an operation",
        ),
        (
            "/MyCareNet/eAttest/v3",
            "urn:a:CancelAttestation",
            "{urn:a}SendAttestationRequest",
            500,
            "does not match SendAttestation",
        ),
        (
            "/MyCareNet/MemberData/v1",
            "urn:a:SendAttestation",
            "{urn:m}Req",
            500,
            "does not match MemberDataConsultation",
        ),
    ],
)
def test_mismatches_are_wsdl_faults(path, action, tag, status, fragment):
    with pytest.raises(SoapFault) as caught:
        REGISTRY.resolve(path, action, payload(tag))
    assert caught.value.code == "SOA-03005"
    assert caught.value.http_status == status
    assert fragment in caught.value.reason


def test_soap_action_quotes_are_ignored():
    assert normalise_soap_action('"urn:a:SendAttestation"') == "urn:a:SendAttestation"
    assert normalise_soap_action(None) is None
    assert REGISTRY.paths == ["/MyCareNet/MemberData/v1", "/MyCareNet/eAttest/v3"]


@pytest.mark.parametrize("action", [None, ""])
def test_without_soap_action_the_body_root_decides(action):
    """SAAJ (the connector) sends no SOAPAction header on MemberData and GenAsync
    (client-quirks #1): the body root names the operation, on every path."""
    assert (
        REGISTRY.resolve(
            "/MyCareNet/eAttest/v3", action, payload("{urn:a}CancelAttestationRequest")
        )
        is CANCEL
    )
    assert REGISTRY.resolve("/MyCareNet/MemberData/v1", action, payload("{urn:m}Req")) is MEMBER
    with pytest.raises(SoapFault) as caught:
        REGISTRY.resolve("/MyCareNet/eAttest/v3", action, payload("{urn:a}Other"))
    assert caught.value.code == "SOA-03005"


def test_a_utf8_soap_action_is_read_as_sent() -> None:
    """HTTP gives header bytes as Latin-1: a UTF-8 value is decoded back, so that a fault
    quoting it shows 'é', not 'Ã©' (found by the fuzz suite)."""
    sent = '"urn:é"'.encode().decode("latin-1")
    assert normalise_soap_action(sent) == "urn:é"
    assert normalise_soap_action("urn:\xe9") == "urn:\xe9"  # Latin-1 that is not UTF-8: kept
