"""eHealth STS (WS-Trust): a SAML 1.1 holder-of-key token, as real clients ask for it.

Three ways in, all at /IAM/SecurityTokenService/v1 (client-quirks 2.1):
- Issue: the token binds the UseKey certificate (or the signer's). When the request is signed
  with another certificate (CONN's default: eID signs, eHealth keystore holds the key), the
  STS first answers a SignChallenge; the client signs the Challenge operation with the UseKey
  key and gets the token then.
- Renew: a token this STS issued (still valid, or expired less than RENEW_GRACE ago) comes
  back embedded; the new one has the same holder and attributes. Signed by another
  certificate of the same person, it goes through the same challenge.
- Challenge: the answer to a SignChallenge.

Pending challenges are kept in the store's records (services/sts_challenges.py): with
several workers the Challenge may reach another worker than the one that sent the
SignChallenge.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from lxml import etree

from simulator.codecs import sts as codec
from simulator.domain.sts import (
    HOLDER_SSIN,
    PERSON_SSIN,
    CertifiedAttribute,
    ChallengeRefused,
    ClaimRefused,
    HolderFacts,
    certify,
    renewable,
    split_holder_name,
)
from simulator.runtime import Simulator
from simulator.security.pki import CertSubject, issued_by_any, parse_subject
from simulator.security.saml import SAML1, SamlAttribute, build_assertion
from simulator.security.saml import parse_and_verify_assertion as verify_assertion
from simulator.security.xmldsig import SecurityError
from simulator.server import overlay
from simulator.server.exchange import Exchange
from simulator.services.registry import Operation, TokenProfile
from simulator.services.sts_challenges import Grant, PendingChallenges
from simulator.soap import faults
from simulator.soap.envelope import new_envelope

PATH = "/IAM/SecurityTokenService/v1"
TOKEN_LIFETIME = timedelta(hours=24)
EXPIRED_TOKEN_AGE = timedelta(hours=1)  # how long ago a scenario's expired token ran out
RST_ACTION = "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecurityToken"
CHALLENGE_ACTION = "urn:be:fgov:ehealth:sts:protocol:v1:Challenge"
WS_TRUST_ISSUE_ACTION = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue"
WS_TRUST_RENEW_ACTION = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Renew"


def pending_challenges(sim: Simulator) -> PendingChallenges:
    return PendingChallenges(sim.records)


async def request_security_token(sim: Simulator, exchange: Exchange) -> etree._Element:
    try:
        request = codec.parse_request(exchange.payload)
    except codec.RstError as error:
        raise faults.SoapFault("SOA-03007", str(error)) from None
    _journal_lifetime(exchange, request)
    signer = exchange.caller.certificate
    if request.is_renewal:
        grant, person = _renewal(sim, request, signer)
    else:
        grant, person = _issuance(sim, request, signer)
    exchange.provider_nihii = grant.nihii
    if signer is None or signer == grant.holder_cert:
        return _token_answer(sim, exchange, grant, request.context)
    # Signed by the person (e.g. eID; `person` vouched for it), key held by another
    # certificate: the client proves it holds that key first.
    assert person is not None
    challenge = pending_challenges(sim).open(grant, context=request.context, now=sim.wire_now())
    exchange.security["sts"] = "sign-challenge sent"
    return new_envelope(codec.build_sign_challenge(context=request.context, challenge=challenge))


async def challenge(sim: Simulator, exchange: Exchange) -> etree._Element:
    try:
        answer = codec.parse_challenge_answer(exchange.payload)
    except codec.RstError as error:
        raise faults.SoapFault("SOA-03007", str(error)) from None
    book = pending_challenges(sim)
    try:
        grant = book.peek(answer.challenge, context=answer.context, now=sim.wire_now())
    except ChallengeRefused as refusal:
        raise faults.unauthenticated(str(refusal), "FailedAuthentication") from None
    signer = exchange.caller.certificate
    if signer is not None and signer != grant.holder_cert:
        raise faults.unauthenticated(
            "the Challenge must be signed with the key of the wst:UseKey certificate "
            f"({_subject_text(grant.holder_cert)})",
            "FailedAuthentication",
        )
    if not book.close(answer.challenge):  # another worker answered it in the meantime
        raise faults.unauthenticated(
            "unknown or expired wst:Challenge: it was answered already", "FailedAuthentication"
        )
    exchange.provider_nihii = grant.nihii
    return _token_answer(sim, exchange, grant, answer.context)


# -- Issue ------------------------------------------------------------------------------------


def _issuance(
    sim: Simulator, request: codec.TokenRequest, signer: x509.Certificate | None
) -> tuple[Grant, CertSubject | None]:
    holder_cert = request.use_key or signer
    if holder_cert is None:
        raise faults.unauthenticated(
            "no certificate to bind the token to: sign with a BinarySecurityToken or send "
            "wst:UseKey",
            "InvalidSecurityToken",
        )
    holder = _subject(holder_cert, "wst:UseKey" if request.use_key is not None else "signer")
    person = None
    if signer is not None and signer != holder_cert:
        _check_use_key_chain(sim, holder_cert)
        person = _same_person(_subject(signer, "signer"), holder)
    facts = holder_facts(sim, holder, person)
    try:
        attributes = certify(request.claims, facts)
    except ClaimRefused as refusal:
        raise faults.SoapFault("SOA-01002", str(refusal)) from None
    return Grant(holder_cert, _grouped(attributes), facts.nihii), person


def _subject(cert: x509.Certificate, role: str) -> CertSubject:
    subject = parse_subject(cert)
    if subject.problem is not None:
        raise faults.unauthenticated(
            f"the {role} certificate (serial {cert.serial_number:x}) is unusable: "
            f"{subject.problem}",
            "InvalidSecurityToken",
        )
    if subject.ssin is None and subject.organisation_type is None:
        raise faults.SoapFault(
            "SOA-01002",
            f"the {role} certificate carries no SSIN (SSIN=, or SERIALNUMBER of an eID) and is "
            "no eHealth organisation certificate (NIHII-<TYPE>=, CBE=, EHP=)",
        )
    return subject


def _check_use_key_chain(sim: Simulator, cert: x509.Certificate) -> None:
    # The pipeline checked the signer's chain; the UseKey certificate is only in the Body.
    if not issued_by_any(cert, sim.pki.trusted_roots, sim.wire_now()):
        raise faults.unauthenticated(
            f"the holder-of-key certificate {_subject_text(cert)!r} is not issued by a trusted CA "
            "or is not valid now",
            "FailedAuthentication",
        )


def _same_person(signer: CertSubject, holder: CertSubject) -> CertSubject:
    """The signer vouches for the holder-of-key certificate only when both are one person."""
    if signer.ssin is None or holder.ssin is None:
        raise faults.unauthenticated(
            "the request is signed by one certificate and wst:UseKey names another: that is "
            "only allowed for one person's certificates (e.g. eID + eHealth keystore); "
            "an organisation certificate must sign for itself",
            "FailedAuthentication",
        )
    if signer.ssin != holder.ssin:
        raise faults.unauthenticated(
            f"the signer (SSIN {signer.ssin}) and the wst:UseKey certificate "
            f"(SSIN {holder.ssin}) belong to different people",
            "FailedAuthentication",
        )
    return signer


def holder_facts(
    sim: Simulator, holder: CertSubject, person: CertSubject | None = None
) -> HolderFacts:
    """What the STS knows of the holder: its certificate(s), and for a person whose
    certificate names no profession (an eID, a plain SSIN certificate), the provider
    registry (the simulator's issued keystores, then its population) as the authentic
    source the real STS consults."""
    nihii, profession = holder.nihii, holder.profession
    if holder.ssin is not None and profession is None:
        nihii, profession = _registered_profession(sim, holder.ssin)
    given, surname = _names(holder, person)
    return HolderFacts(
        ssin=holder.ssin,
        nihii=nihii,
        profession=profession,
        given_name=given,
        surname=surname,
        organisation=holder.organisation_type,
        cbe=holder.cbe,
        ehp=holder.ehp,
    )


def _names(holder: CertSubject, person: CertSubject | None) -> tuple[str | None, str | None]:
    for subject in (person, holder):
        if subject is not None and subject.given_name and subject.surname:
            return subject.given_name, subject.surname  # an eID's GN and SN
    return split_holder_name(holder.name or (person.name if person else None))


def _registered_profession(sim: Simulator, ssin: str) -> tuple[str | None, str | None]:
    for cert in sim.pki.provider_certificates():  # newest first
        known = parse_subject(cert)
        if known.ssin == ssin and known.profession is not None:
            return known.nihii, known.profession
    provider = next((p for p in sim.population.providers if p.ssin == ssin), None)
    if provider is not None:
        return provider.nihii, provider.profession
    return None, None


# -- Renew ------------------------------------------------------------------------------------


def _renewal(
    sim: Simulator, request: codec.TokenRequest, signer: x509.Certificate | None
) -> tuple[Grant, CertSubject | None]:
    assert request.renew_target is not None
    target = request.renew_target
    now = sim.wire_now()
    try:
        # Checked at its own start: an expired token may be renewed (RENEW_GRACE below).
        verified = verify_assertion(
            target, sts_cert=sim.pki.sts.cert, now=_not_before(target) or now, cache=None
        )
    except SecurityError as error:
        raise faults.unauthenticated(
            f"wst:RenewTarget: {error.reason}", "InvalidSecurityToken"
        ) from None
    if not renewable(verified.not_on_or_after, now):
        raise faults.unauthenticated(
            f"wst:RenewTarget: token {verified.assertion_id} ran out at "
            f"{verified.not_on_or_after.isoformat()}, too long ago to renew: ask a new one",
            "InvalidSecurityToken",
        )
    attributes = _attributes_of(target)
    person = None
    if signer is not None and signer != verified.holder_cert:
        _check_use_key_chain(sim, verified.holder_cert)  # still trusted and valid now
        signer_subject = _subject(signer, "signer")
        ssin = next((a.values[0] for a in attributes if a.name in (HOLDER_SSIN, PERSON_SSIN)), None)
        if signer_subject.ssin is None or signer_subject.ssin != ssin:
            raise faults.unauthenticated(
                "wst:RenewTarget: the token belongs to another holder than the signer; sign "
                "the renewal with the token's holder-of-key certificate",
                "FailedAuthentication",
            )
        person = signer_subject
    nihii = next((a.values[0] for a in attributes if a.name.endswith(":nihii11")), None)
    return Grant(verified.holder_cert, attributes, nihii), person


def _not_before(assertion: etree._Element) -> datetime | None:
    conditions = assertion.find(f"{{{SAML1}}}Conditions")
    return codec.parse_instant(conditions.get("NotBefore") if conditions is not None else None)


def _attributes_of(assertion: etree._Element) -> tuple[SamlAttribute, ...]:
    return tuple(
        SamlAttribute(
            attribute.get("AttributeName", ""),
            attribute.get("AttributeNamespace", ""),
            tuple(v.text or "" for v in attribute.findall(f"{{{SAML1}}}AttributeValue")),
        )
        for attribute in assertion.iterfind(f"{{{SAML1}}}AttributeStatement/{{{SAML1}}}Attribute")
    )


# -- the token --------------------------------------------------------------------------------


def _token_answer(
    sim: Simulator, exchange: Exchange, grant: Grant, context: str | None
) -> etree._Element:
    now = sim.wire_now()  # token validity is wire time, whatever the business date
    if overlay.token_must_be_expired(sim, exchange):
        # A token whose whole validity lies in the past: the next service call must renew it.
        now -= TOKEN_LIFETIME + EXPIRED_TOKEN_AGE
    expires = now + TOKEN_LIFETIME
    assertion = build_assertion(
        subject_cert=grant.holder_cert,
        subject_name=grant.holder_cert.subject.rfc4514_string(),
        attributes=list(grant.attributes),
        issue_instant=now,
        not_before=now,
        not_on_or_after=expires,
        signer_key=sim.pki.sts.key,
        signer_cert=sim.pki.sts.cert,
    )
    response = codec.build_response(
        assertion,
        context=context,
        created=now,
        expires=expires,
        shape=sim.settings.sts_response,
    )
    return new_envelope(response)


def _grouped(attributes: list[CertifiedAttribute]) -> tuple[SamlAttribute, ...]:
    return tuple(SamlAttribute(a.name, a.namespace, (a.value,)) for a in attributes)


def _subject_text(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except ValueError:
        return f"serial {cert.serial_number:x}"


def _journal_lifetime(exchange: Exchange, request: codec.TokenRequest) -> None:
    """The Lifetime the client asked for, as read (any dateTime form; the STS sets its own)."""
    if request.lifetime is None:
        return
    read = [codec.parse_instant(text) for text in request.lifetime]
    exchange.security["requested_lifetime"] = [m.isoformat() if m else None for m in read]


OPERATIONS = [
    Operation(
        service="sts",
        name="RequestSecurityToken",
        path=PATH,
        payload=f"{{{codec.WST}}}RequestSecurityToken",
        # What clients send (CONN, EC, EGK, KH), the WS-Trust actions; or none at all.
        soap_actions=frozenset({"", RST_ACTION, WS_TRUST_ISSUE_ACTION, WS_TRUST_RENEW_ACTION}),
        handler=request_security_token,
        token=TokenProfile.X509,
        request_schema="sts-request",
    ),
    Operation(
        service="sts",
        name="Challenge",
        path=PATH,
        payload=f"{{{codec.WST}}}RequestSecurityTokenResponse",
        soap_actions=frozenset({"", CHALLENGE_ACTION}),
        handler=challenge,
        token=TokenProfile.X509,
        request_schema="sts-request",
    ),
]
