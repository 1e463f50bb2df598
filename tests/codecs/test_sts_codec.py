"""WS-Trust codec: what real clients write is read; what is wrong is named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from simulator.codecs import sts as codec

WST = codec.WST


def _rst(children: str, attrs: str = "") -> etree._Element:
    return etree.fromstring(
        f'<wst:RequestSecurityToken xmlns:wst="{WST}" xmlns:wsse="{codec.WSSE}" '
        f'xmlns:saml="{codec.SAML1}" xmlns:auth="{codec.AUTH}" {attrs}>{children}'
        "</wst:RequestSecurityToken>"
    )


TOKEN_TYPE = f"<wst:TokenType>{codec.SAML11_TOKEN_TYPE}</wst:TokenType>"
ASSERTION = '<saml:Assertion AssertionID="_a" MajorVersion="1" MinorVersion="1"/>'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05T08:00:00+0000", datetime(2026, 12, 5, 8, 0, tzinfo=UTC)),  # EC
        ("2026-12-05T09:00:00.123+01:00", datetime(2026, 12, 5, 8, 0, 0, 123000, tzinfo=UTC)),
        ("2026-12-05T08:00:00.1234567Z", datetime(2026, 12, 5, 8, 0, 0, 123456, tzinfo=UTC)),
        ("2026-12-05T08:00:00", datetime(2026, 12, 5, 8, 0, tzinfo=UTC)),
        ("2026-12-05T08:00:00-0130", datetime(2026, 12, 5, 9, 30, tzinfo=UTC)),
        ("tomorrow", None),
        ("2026-13-05T08:00:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_instant_reads_every_client_form(text: str | None, expected: datetime | None) -> None:
    assert codec.parse_instant(text) == expected


@pytest.mark.parametrize(
    "target",
    [
        f"<wsse:SecurityTokenReference><wsse:Embedded>{ASSERTION}</wsse:Embedded>"
        "</wsse:SecurityTokenReference>",
        ASSERTION,
    ],
)
def test_renew_target_shapes(target: str) -> None:
    request = codec.parse_request(
        _rst(
            f"{TOKEN_TYPE}<wst:RequestType>{codec.RENEW}</wst:RequestType>"
            f"<wst:RenewTarget>{target}</wst:RenewTarget>",
            'Context="c-1"',
        )
    )
    assert request.is_renewal and request.renew_target is not None
    assert request.renew_target.get("AssertionID") == "_a"
    assert request.claims == () and request.context == "c-1"


@pytest.mark.parametrize(
    ("children", "message"),
    [
        (f"<wst:RequestType>{codec.RENEW}</wst:RequestType>", "needs wst:RenewTarget"),
        (
            f"<wst:RequestType>{codec.RENEW}</wst:RequestType><wst:RenewTarget>"
            "<wsse:SecurityTokenReference/></wst:RenewTarget>",
            "must hold wsse:SecurityTokenReference/wsse:Embedded/saml:Assertion",
        ),
        (
            f"<wst:RequestType>{codec.RENEW}</wst:RequestType><wst:RenewTarget>"
            f"{ASSERTION}{ASSERTION}</wst:RenewTarget>",
            "more than one",
        ),
        ("<wst:RequestType>urn:validate</wst:RequestType>", "RequestType must be"),
        (f"<wst:RequestType>{codec.ISSUE}</wst:RequestType>", "nothing to certify"),
    ],
)
def test_bad_requests_are_named(children: str, message: str) -> None:
    with pytest.raises(codec.RstError, match=message):
        codec.parse_request(_rst(TOKEN_TYPE + children))


def test_challenge_answers() -> None:
    conn = etree.fromstring(
        f'<wst:RequestSecurityTokenResponse Context="c" xmlns:wst="{WST}">'
        "<wst:SignChallengeResponse><wst:Challenge> abc </wst:Challenge>"
        "</wst:SignChallengeResponse></wst:RequestSecurityTokenResponse>"
    )
    assert codec.parse_challenge_answer(conn) == codec.ChallengeAnswer("c", "abc")
    empty = etree.fromstring(
        f'<wst:RequestSecurityTokenResponse xmlns:wst="{WST}"><wst:SignChallengeResponse>'
        "<wst:Challenge/></wst:SignChallengeResponse></wst:RequestSecurityTokenResponse>"
    )
    with pytest.raises(codec.RstError, match="empty"):
        codec.parse_challenge_answer(empty)
    with pytest.raises(codec.RstError, match="SignChallengeResponse"):
        codec.parse_challenge_answer(etree.fromstring(f'<x:R xmlns:x="{WST}"/>'))


def test_answers_round_trip_through_the_client_readers() -> None:
    challenge = codec.build_sign_challenge(context="ctx", challenge="n0nce")
    assert challenge.tag == f"{{{WST}}}RequestSecurityTokenResponse"
    assert codec.read_challenge(challenge) == codec.ChallengeAnswer("ctx", "n0nce")
    answer = codec.build_challenge_answer(context="ctx", challenge="n0nce")
    assert codec.parse_challenge_answer(answer) == codec.ChallengeAnswer("ctx", "n0nce")
    now = datetime.now(UTC)
    assertion = etree.Element(f"{{{codec.SAML1}}}Assertion", AssertionID="_x")
    for shape, root in (
        ("rstr", "RequestSecurityTokenResponse"),
        ("rstrc", "RequestSecurityTokenResponseCollection"),
    ):
        response = codec.build_response(
            etree.fromstring(etree.tostring(assertion)),
            context="ctx",
            created=now,
            expires=now,
            shape=shape,
        )
        assert response.tag == f"{{{WST}}}{root}"
        assert codec.read_assertion(response).get("AssertionID") == "_x"
        assert codec.read_challenge(response) is None
    renew = codec.parse_request(codec.build_renew_request(assertion, context="r-1"))
    assert renew.is_renewal and renew.context == "r-1"
