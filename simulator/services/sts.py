"""eHealth STS: a SAML 1.1 holder-of-key token for the certificate that signed the request."""

from __future__ import annotations

from datetime import timedelta

from lxml import etree

from simulator.codecs import sts as codec
from simulator.domain.sts import CertifiedAttribute, ClaimRefused, HolderFacts, certify
from simulator.runtime import Simulator
from simulator.security.pki import parse_subject
from simulator.security.saml import SamlAttribute, build_assertion
from simulator.server import overlay
from simulator.server.exchange import Exchange
from simulator.services.registry import Operation, TokenProfile
from simulator.soap import faults
from simulator.soap.envelope import new_envelope

PATH = "/IAM/SecurityTokenService/v1"
TOKEN_LIFETIME = timedelta(hours=24)
EXPIRED_TOKEN_AGE = timedelta(hours=1)  # how long ago a scenario's expired token ran out


async def request_security_token(sim: Simulator, exchange: Exchange) -> etree._Element:
    try:
        request = codec.parse_request(exchange.payload)
    except codec.RstError as error:
        raise faults.SoapFault("SOA-03007", str(error)) from None
    signer = exchange.caller.certificate
    holder_cert = request.use_key or signer
    if holder_cert is None:
        raise faults.unauthenticated(
            "no certificate to bind the token to: sign with a BinarySecurityToken or send "
            "wst:UseKey",
            "InvalidSecurityToken",
        )
    if signer is not None and request.use_key is not None and request.use_key != signer:
        raise faults.unauthenticated(
            "wst:UseKey certificate differs from the certificate that signed the request",
            "FailedAuthentication",
        )
    subject = parse_subject(holder_cert)
    if subject.ssin is None:
        raise faults.SoapFault(
            "SOA-01002",
            "the certificate carries no SSIN: it is not an eHealth personal certificate",
        )
    exchange.provider_nihii = subject.nihii
    try:
        attributes = certify(
            request.claims,
            HolderFacts(ssin=subject.ssin, nihii=subject.nihii, profession=subject.profession),
        )
    except ClaimRefused as refusal:
        raise faults.SoapFault("SOA-01002", str(refusal)) from None

    now = sim.clock.now()
    if overlay.token_must_be_expired(sim, exchange):
        # A token whose whole validity lies in the past: the next service call must renew it.
        now -= TOKEN_LIFETIME + EXPIRED_TOKEN_AGE
    expires = now + TOKEN_LIFETIME
    assertion = build_assertion(
        subject_cert=holder_cert,
        subject_name=holder_cert.subject.rfc4514_string(),
        attributes=_grouped(attributes),
        issue_instant=now,
        not_before=now,
        not_on_or_after=expires,
        signer_key=sim.pki.sts.key,
        signer_cert=sim.pki.sts.cert,
    )
    response = codec.build_response(
        assertion, context=request.context, created=now, expires=expires
    )
    return new_envelope(response)


def _grouped(attributes: list[CertifiedAttribute]) -> list[SamlAttribute]:
    return [SamlAttribute(a.name, a.namespace, (a.value,)) for a in attributes]


OPERATIONS = [
    Operation(
        service="sts",
        name="RequestSecurityToken",
        path=PATH,
        payload=f"{{{codec.WST}}}RequestSecurityToken",
        soap_actions=frozenset({"", "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue"}),
        handler=request_security_token,
        token=TokenProfile.X509,
        request_schema="sts-request",
    )
]
