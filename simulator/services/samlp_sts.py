"""eHealth STS, SAML-P flavour: `samlp:Request`/`AttributeQuery` in, `samlp:Response` out.

The older STS interface (client-quirks refusal #6) that EGK `SamlClient`, MDK `SessionService`
and the connector's legacy `STSServiceImpl` call, at `/IAM/Saml11TokenService/v1`, its
`/Legacy/v1` twin, and beside WS-Trust at `/IAM/SecurityTokenService/v1`. It issues the same
SAML 1.1 holder-of-key assertion as the WS-Trust STS (`domain.sts.certify`,
`security.saml.build_assertion`).

Who asks is proven by signatures rather than by the pipeline's WS-Security stage (the
operation's token profile is NONE), because the clients prove it in two ways:
* the `samlp:Request` carries an enveloped signature by the holder-of-key key (EGK, MDK, and
  the connector when its authentication and holder-of-key certificates differ);
* the connector leaves the request unsigned when both certificates are the same and signs
  the envelope with an X.509 BinarySecurityToken instead (MDK signs both).
The security mode is honoured as in the pipeline: strict refuses, lenient journals and goes
on, off checks nothing; the verdict lands in `exchange.security` either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from lxml import etree

from simulator.codecs import samlp as codec
from simulator.config import SecurityMode
from simulator.domain.sts import CertifiedAttribute, ClaimRefused, HolderFacts, certify
from simulator.runtime import Simulator
from simulator.security.enveloped import signature_of, signer_certificate, verify_enveloped
from simulator.security.pki import parse_subject
from simulator.security.saml import SamlAttribute, build_assertion
from simulator.security.wssecurity import verify_request
from simulator.security.xmldsig import DS, SecurityError
from simulator.server import overlay
from simulator.server.exchange import Caller, Exchange
from simulator.services.registry import Operation, TokenProfile
from simulator.soap import faults
from simulator.soap.envelope import new_envelope

PATHS = (
    "/IAM/Saml11TokenService/v1",
    "/IAM/Saml11TokenService/Legacy/v1",
    "/IAM/SecurityTokenService/v1",  # beside WS-Trust: dispatched on the body element
)
# CONN legacy and MDK send RequestSecureToken; EGK RequestSecurityToken; WCF may send none.
SOAP_ACTIONS = frozenset(
    {
        "",
        "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecureToken",
        "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecurityToken",
    }
)
TOKEN_LIFETIME = timedelta(hours=24)  # the longest the STS grants, as over WS-Trust
EXPIRED_TOKEN_AGE = timedelta(hours=1)
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"


class _Refusal(Exception):
    """An answer in the SAML-P way: samlp:Status with codes and a message."""

    def __init__(self, message: str, status: str, second: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.second = second


class _HeaderRejected(SecurityError):
    """The envelope's WS-Security signature failed (not the request's own)."""


@dataclass(frozen=True)
class _Proof:
    holder: x509.Certificate  # the certificate the token binds
    header_signer: x509.Certificate | None  # WS-Security BST signer, when checked


async def request_secure_token(sim: Simulator, exchange: Exchange) -> etree._Element:
    now = sim.wire_now()  # token validity is wire time, whatever the business date
    request_id = exchange.payload.get("RequestID") or ""
    try:
        request = codec.parse_request(exchange.payload)
        proof = _authenticate(sim, exchange, request, now)
        attributes = _certify(exchange, request, proof)
    except codec.SamlpError as error:
        return _refuse(exchange, request_id, now, _Refusal(str(error), error.status))
    except _Refusal as refusal:
        return _refuse(exchange, request_id, now, refusal)

    if overlay.token_must_be_expired(sim, exchange):
        # A token whose whole validity lies in the past: the next service call must renew it.
        now -= TOKEN_LIFETIME + EXPIRED_TOKEN_AGE
        expires = now + TOKEN_LIFETIME
    else:
        expires = _expiry(now, request.not_on_or_after)
    assertion = build_assertion(
        subject_cert=proof.holder,
        subject_name=proof.holder.subject.rfc4514_string(),
        attributes=[SamlAttribute(a.name, a.namespace, (a.value,)) for a in attributes],
        issue_instant=now,
        not_before=now,
        not_on_or_after=expires,
        signer_key=sim.pki.sts.key,
        signer_cert=sim.pki.sts.cert,
    )
    return new_envelope(
        codec.build_response(in_response_to=request.request_id, now=now, assertion=assertion)
    )


def _expiry(now: datetime, asked: datetime | None) -> datetime:
    """The validity the client asked for (its asserted Conditions), at most a day."""
    longest = now + TOKEN_LIFETIME
    if asked is None or asked <= now:
        return longest
    return min(asked, longest)


def _refuse(
    exchange: Exchange, request_id: str, now: datetime, refusal: _Refusal
) -> etree._Element:
    exchange.business_code = f"samlp:{refusal.second or refusal.status}"
    response = codec.build_response(
        in_response_to=request_id,
        now=now,
        status=refusal.status,
        second_status=refusal.second,
        message=refusal.message,
    )
    return new_envelope(response)


# -- who asks ------------------------------------------------------------------------------------


def _authenticate(
    sim: Simulator, exchange: Exchange, request: codec.SamlpRequest, now: datetime
) -> _Proof:
    mode = sim.security_mode
    exchange.security = {"mode": str(mode)}
    if mode is SecurityMode.OFF:
        exchange.security["verdict"] = "not-checked"
        return _Proof(_unverified_holder(exchange, request), None)
    try:
        proof = _verified(sim, exchange, request, now)
    except SecurityError as error:
        exchange.security.update(verdict="rejected", fault=error.fault, reason=error.reason)
        if mode is SecurityMode.STRICT:
            if isinstance(error, _HeaderRejected):
                # The ESB's WS-Security layer refuses before the STS reads the request.
                raise faults.unauthenticated(error.reason, error.fault) from None
            raise _refusal_for(error) from None
        return _Proof(_unverified_holder(exchange, request), None)
    exchange.security["verdict"] = "valid"
    return proof


def _verified(
    sim: Simulator, exchange: Exchange, request: codec.SamlpRequest, now: datetime
) -> _Proof:
    header_signer = None
    checked: list[str] = []
    if _has_header_signature(exchange):
        try:
            verdict = verify_request(
                exchange.envelope.root if exchange.envelope is not None else exchange.payload,
                ca_cert=sim.pki.ca.cert,
                sts_cert=None,
                now=now,
                require="x509",
                cache=None,
            )
        except SecurityError as error:
            raise _HeaderRejected(error.fault, error.reason) from None
        header_signer = verdict.signer_cert
        checked.append(f"ws-security {verdict.algorithm}")
    request_signer = None
    if signature_of(exchange.payload) is not None:
        enveloped = verify_enveloped(
            exchange.payload, id_attribute="RequestID", ca_cert=sim.pki.ca.cert, now=now
        )
        request_signer = enveloped.signer_cert
        checked.append(f"enveloped {enveloped.algorithm}")
    prover = request_signer or header_signer
    if prover is None:
        raise SecurityError(
            "InvalidSecurity",
            "the samlp:Request is not signed and the message carries no WS-Security signature",
        )
    holder = request.holder_cert or prover
    if holder != prover:
        # Possession of the holder-of-key key is what the token certifies: it must have signed.
        who = "the samlp:Request" if request_signer is not None else "the WS-Security header"
        raise SecurityError(
            "FailedAuthentication",
            f"the holder-of-key certificate {holder.subject.rfc4514_string()!r} did not sign "
            f"{who}; sign the samlp:Request with the holder-of-key key",
        )
    exchange.security["checked"] = checked
    return _Proof(holder, header_signer)


def _has_header_signature(exchange: Exchange) -> bool:
    envelope = exchange.envelope
    if envelope is None:
        return False
    return any(
        security.find(f"{{{DS}}}Signature") is not None
        for security in envelope.header_blocks(WSSE, "Security")
    )


def _unverified_holder(exchange: Exchange, request: codec.SamlpRequest) -> x509.Certificate:
    """The holder named by the request itself, for modes that do not (or failed to) check."""
    if request.holder_cert is not None:
        return request.holder_cert
    try:
        signature = signature_of(exchange.payload)
        if signature is not None:
            return signer_certificate(signature)
    except SecurityError:
        pass
    raise _Refusal(
        "no certificate to bind the token to: send SubjectConfirmation/ds:KeyInfo/ds:X509Data",
        codec.REQUESTER,
    )


def _refusal_for(error: SecurityError) -> _Refusal:
    return _Refusal(f"{error.fault}: {error.reason}", codec.REQUESTER, codec.REQUEST_DENIED)


# -- what is certified -----------------------------------------------------------------------------


def _certify(
    exchange: Exchange, request: codec.SamlpRequest, proof: _Proof
) -> list[CertifiedAttribute]:
    subject = parse_subject(proof.holder)
    if proof.header_signer is not None and proof.header_signer != proof.holder:
        signer_ssin = parse_subject(proof.header_signer).ssin
        if signer_ssin and subject.ssin and signer_ssin != subject.ssin:
            raise _Refusal(
                f"the WS-Security signer (SSIN {signer_ssin}) is not the holder-of-key "
                f"certificate's holder (SSIN {subject.ssin})",
                codec.REQUESTER,
                codec.REQUEST_DENIED,
            )
    exchange.provider_nihii = subject.nihii
    exchange.caller = Caller(
        ssin=subject.ssin,
        nihii=subject.nihii,
        subject=proof.holder.subject.rfc4514_string(),
        certificate=proof.holder,
    )
    exchange.security["caller"] = {"ssin": subject.ssin, "nihii": subject.nihii}
    if subject.ssin is None:
        raise _Refusal(
            "the certificate carries no SSIN: it is not an eHealth personal certificate",
            codec.RESPONDER,
        )
    try:
        return certify(
            request.claims,
            HolderFacts(ssin=subject.ssin, nihii=subject.nihii, profession=subject.profession),
        )
    except ClaimRefused as refusal:
        raise _Refusal(str(refusal), codec.RESPONDER) from None


OPERATIONS = [
    Operation(
        service="sts",
        name="RequestSecureToken",
        path=path,
        payload=codec.REQUEST_TAG,
        soap_actions=SOAP_ACTIONS,
        handler=request_secure_token,
        # Authenticated by its own signatures (see the module docstring), not the pipeline's.
        token=TokenProfile.NONE,
    )
    for path in PATHS
]
