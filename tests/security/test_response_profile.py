"""The answers' wsse:Security profile: full, or the Timestamp alone eHI's library-core reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from simulator.config import ResponseSecurity
from simulator.security.wssecurity import response_profile_for, sign_response
from simulator.soap.envelope import new_envelope

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _request(timestamp_id: str, created: str) -> etree._Element:
    return etree.fromstring(
        f'<s:Envelope xmlns:s="{SOAP}"><s:Header><wsse:Security xmlns:wsse="{WSSE}" '
        f'xmlns:wsu="{WSU}"><wsu:Timestamp wsu:Id="{timestamp_id}"><wsu:Created>{created}'
        "</wsu:Created></wsu:Timestamp></wsse:Security></s:Header><s:Body/></s:Envelope>"
    )


@pytest.mark.parametrize(
    ("timestamp_id", "created", "expected"),
    [
        # eHI library-core: "uuid-" + GUID, seconds and K (WSS.cs ApplyOnRequest)
        (
            "uuid-3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            "2026-12-05T09:00:00Z",
            ResponseSecurity.TIMESTAMP_ONLY,
        ),
        # WCF (eHI's older GenAsync stack) suffixes its ids: it reads signed answers
        ("uuid-3f2504e0-4f89-11d3-9a0c-0305e82c3301-1", "2026-12-05T09:00:00Z", "full"),
        ("_0", "2026-12-05T09:00:00.123Z", "full"),
        # WSS4J (the connector, e-Contract): TS- ids and milliseconds
        ("TS-3f2504e0-4f89-11d3-9a0c-0305e82c3301", "2026-12-05T09:00:00.123Z", "full"),
        ("uuid-3f2504e0-4f89-11d3-9a0c-0305e82c3301", "2026-12-05T09:00:00.123Z", "full"),
    ],
)
def test_only_ehi_library_core_requests_get_the_timestamp_only_answer(
    timestamp_id: str, created: str, expected: str
) -> None:
    request = _request(timestamp_id, created)
    assert response_profile_for(request, ResponseSecurity.FULL) == expected
    assert (
        response_profile_for(request, ResponseSecurity.TIMESTAMP_ONLY)
        == ResponseSecurity.TIMESTAMP_ONLY
    )
    assert response_profile_for(None, ResponseSecurity.FULL) == ResponseSecurity.FULL


def test_a_timestamp_only_answer_holds_a_fresh_timestamp_and_nothing_else() -> None:
    envelope = new_envelope(etree.Element("{urn:x}answer"))
    sign_response(
        envelope, None, None, now=NOW, ttl=timedelta(minutes=5),  # type: ignore[arg-type]
        profile=ResponseSecurity.TIMESTAMP_ONLY,
    )  # fmt: skip
    security = envelope.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security")
    assert security is not None
    assert [child.tag for child in security] == [f"{{{WSU}}}Timestamp"]
    assert security[0].findtext(f"{{{WSU}}}Created") == "2026-12-05T09:00:00.000Z"
    assert security[0].findtext(f"{{{WSU}}}Expires") == "2026-12-05T09:05:00.000Z"
