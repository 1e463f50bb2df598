"""What the eHealth STS certifies for a certificate holder (wire-formats 1.9, client-quirks 2.1).

The STS answers a request for attribute designators with the values it can certify from the
caller's certificate. A designator it cannot certify (a doctor asking for a physiotherapist
NIHII, a person asking for a hospital's) is a refusal, as the real STS gives.

Claim forms real clients send (FHC/IFHC STSServiceImpl.kt, EGK genIns.config, CONN):
  persons        urn:be:fgov:person:ssin:<word>:boolean
                 urn:be:fgov:person:ssin:ehealth:1.0:{<word>:nihii11 | nihii:<word>:nihii11 |
                     professional:<word>:boolean | fpsph:<word>:boolean | givenname | surname}
                 urn:be:fgov:ehealth:1.0:certificateholder:person:ssin:usersession:boolean
  organisations  urn:be:fgov:ehealth:1.0:[certificateholder:]<org>:nihii-number  (with a value)
                 urn:be:fgov:ehealth:1.0:[certificateholder:]<org>:nihii-number:recognised<org>:
                     {boolean | nihii11}
                 urn:be:fgov:ehealth:1.0:certificateholder:recognisedorganization:boolean
                 urn:be:fgov:ehealth:1.0:certificateholder:enterprise:cbe-number[...:boolean]
                 urn:be:fgov:kbo-bce:organization:cbe-number
                 urn:be:fgov:ehealth:1.0:[certificateholder:]organization:ehp-number[...]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

IDENTIFICATION_NAMESPACE = "urn:be:fgov:identification-namespace"
CERTIFIED_NAMESPACE = "urn:be:fgov:certified-namespace:ehealth"
HOLDER_SSIN = "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin"
PERSON_SSIN = "urn:be:fgov:person:ssin"
USER_SESSION = "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin:usersession:boolean"
_PREFIX = "urn:be:fgov:person:ssin:ehealth:1.0:"
_PERSON_BOOLEAN = "urn:be:fgov:person:ssin:"  # + <word>:boolean
_EHEALTH = "urn:be:fgov:ehealth:1.0:"
_HOLDER = "certificateholder:"
RECOGNISED_ORGANISATION = f"{_EHEALTH}{_HOLDER}recognisedorganization:boolean"
KBO_CBE = "urn:be:fgov:kbo-bce:organization:cbe-number"
_DAAS_AUTHORIZED = ["ehealth", "1.0", "cbe_daas_authorized", "boolean"]  # after cbe-number:

# Certificate profession (from the NIHII-<PROFESSION> field) -> the STS's profession word.
PROFESSION_WORDS = {
    "PHYSICIAN": "doctor",
    "DENTIST": "dentist",
    "PHYSIOTHERAPIST": "physiotherapist",
    "NURSE": "nurse",
    "PHARMACIST": "pharmacist",
    "MIDWIFE": "midwife",
    "LOGOPEDIST": "logopedist",
    "DIETICIAN": "dietician",
    "CLINICAL_PSYCHOLOGIST": "clinicalpsychologist",  # FHC's word: no separator
    "OPTICIAN": "optician",
    "PODOLOGIST": "podologist",
}
ORGANISATION_WORDS = (
    "medicalhouse",
    "guardpost",
    "sortingcenter",
    "officedoctors",
    "groupofnurses",
    "reeducation",
    "hospital",
    "pharmacy",
    "enterprise",
    "ehp",
)

# A token may be renewed until this long after it ran out (a simulator choice: the real
# window is not published). It covers a scenario's deliberately expired token (1 h old).
RENEW_GRACE = timedelta(hours=12)

@dataclass(frozen=True)
class Claim:
    uri: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class HolderFacts:
    """What the caller's certificate(s) say about them."""

    ssin: str | None
    nihii: str | None
    profession: str | None  # certificate profession, e.g. PHYSICIAN
    given_name: str | None = None
    surname: str | None = None
    organisation: str | None = None  # STS word of an organisation certificate, e.g. hospital
    cbe: str | None = None
    ehp: str | None = None


@dataclass(frozen=True)
class CertifiedAttribute:
    name: str
    namespace: str
    value: str


class ClaimRefused(ValueError):
    pass


def certify(claims: tuple[Claim, ...], holder: HolderFacts) -> list[CertifiedAttribute]:
    """The attributes to put in the assertion, or `ClaimRefused` with the reason."""
    attributes: list[CertifiedAttribute] = []
    seen: set[str] = set()
    for claim in claims:
        if claim.uri in seen:  # asked twice (as attribute and designator): certified once
            continue
        seen.add(claim.uri)
        if claim.uri.startswith((_PERSON_BOOLEAN, HOLDER_SSIN)) or claim.uri == PERSON_SSIN:
            attributes.append(_person(claim, holder))
        else:
            attributes.append(_organisation(claim, holder))
    return attributes


# -- persons ----------------------------------------------------------------------------------


def _person(claim: Claim, holder: HolderFacts) -> CertifiedAttribute:
    uri = claim.uri
    if holder.ssin is None:
        raise ClaimRefused(
            f"cannot certify {uri}: the certificate holder is an organisation "
            f"({holder.organisation or 'no SSIN'}), not a person"
        )
    if uri in (HOLDER_SSIN, PERSON_SSIN):
        if claim.values and claim.values[0] != holder.ssin:
            raise ClaimRefused(
                f"claim {uri} asks for SSIN {claim.values[0]} but the certificate "
                f"belongs to {holder.ssin}"
            )
        return CertifiedAttribute(uri, IDENTIFICATION_NAMESPACE, holder.ssin)
    if uri == USER_SESSION:
        return CertifiedAttribute(uri, CERTIFIED_NAMESPACE, "true")
    if uri.startswith(_PREFIX):
        return _professional(uri, uri[len(_PREFIX) :].split(":"), holder)
    parts = uri[len(_PERSON_BOOLEAN) :].split(":") if uri.startswith(_PERSON_BOOLEAN) else []
    if len(parts) == 2 and parts[1] == "boolean":  # urn:be:fgov:person:ssin:doctor:boolean
        return _profession_attribute(uri, parts[0], "boolean", holder)
    raise ClaimRefused(f"the STS does not certify {uri}")


def _professional(uri: str, parts: list[str], holder: HolderFacts) -> CertifiedAttribute:
    if parts in (["givenname"], ["surname"]):
        value = holder.given_name if parts[0] == "givenname" else holder.surname
        if not value:
            raise ClaimRefused(f"cannot certify {uri}: the certificate carries no {parts[0]}")
        return CertifiedAttribute(uri, CERTIFIED_NAMESPACE, value)
    asked = _asked_profession(parts)
    if asked is None:
        raise ClaimRefused(f"the STS does not certify {uri}")
    return _profession_attribute(uri, asked, parts[-1], holder)


def _profession_attribute(
    uri: str, asked: str, kind: str, holder: HolderFacts
) -> CertifiedAttribute:
    word = PROFESSION_WORDS.get(holder.profession or "")
    if asked != word:
        held = word or "no recognised profession"
        raise ClaimRefused(f"cannot certify {uri}: the certificate holder is {held}")
    if kind == "nihii11":
        if holder.nihii is None:
            raise ClaimRefused(f"cannot certify {uri}: the certificate carries no NIHII")
        return CertifiedAttribute(uri, CERTIFIED_NAMESPACE, holder.nihii)
    return CertifiedAttribute(uri, CERTIFIED_NAMESPACE, "true")


def _asked_profession(parts: list[str]) -> str | None:
    # Forms: nihii:<word>:nihii11 | <word>:nihii11 | professional:<word>:boolean |
    #        fpsph:<word>:boolean
    if len(parts) == 3 and parts[0] in ("nihii", "professional", "fpsph"):
        expected = "nihii11" if parts[0] == "nihii" else "boolean"
        return parts[1] if parts[2] == expected else None
    if len(parts) == 2 and parts[1] == "nihii11":
        return parts[0]
    return None


def split_holder_name(name: str | None) -> tuple[str | None, str | None]:
    """'Jan Peeters' -> ('Jan', 'Peeters'): how an eHealth certificate's holder name is read."""
    if not name or not name.strip():
        return None, None
    given, _, surname = name.strip().partition(" ")
    return (given, surname.strip()) if surname.strip() else (None, given)


# -- organisations ----------------------------------------------------------------------------


def _organisation(claim: Claim, holder: HolderFacts) -> CertifiedAttribute:
    uri = claim.uri
    kind, field, suffix = _organisation_claim(uri)
    if holder.organisation is None:
        raise ClaimRefused(f"cannot certify {uri}: the certificate holder is a person")
    if kind is not None and kind != holder.organisation:
        raise ClaimRefused(
            f"cannot certify {uri}: the certificate holder is a {holder.organisation}, not a {kind}"
        )
    if suffix == "boolean":
        return CertifiedAttribute(uri, CERTIFIED_NAMESPACE, "true")
    identifier = _identifier(field, holder, uri)
    if suffix == "nihii11":
        return CertifiedAttribute(uri, CERTIFIED_NAMESPACE, identifier.ljust(11, "0"))
    value = claim.values[0] if claim.values else identifier
    if not _same_identifier(value, identifier):
        raise ClaimRefused(
            f"claim {uri} asks for {value} but the certificate belongs to {identifier}"
        )
    return CertifiedAttribute(uri, IDENTIFICATION_NAMESPACE, value)


def _organisation_claim(uri: str) -> tuple[str | None, str, str]:
    """(organisation word or None for any, identifier field, "" | "boolean" | "nihii11")."""
    if uri == RECOGNISED_ORGANISATION:
        return None, "", "boolean"
    if uri == KBO_CBE:
        return "enterprise", "cbe-number", ""
    if not uri.startswith(_EHEALTH):
        raise ClaimRefused(f"the STS does not certify {uri}")
    parts = uri[len(_EHEALTH) :].removeprefix(_HOLDER).split(":")
    if parts[:2] == ["organization", "ehp-number"]:
        parts[0] = "ehp"
    if len(parts) < 2 or parts[0] not in ORGANISATION_WORDS:
        raise ClaimRefused(f"the STS does not certify {uri}")
    kind, field, rest = parts[0], parts[1], parts[2:]
    expected_field = {"enterprise": "cbe-number", "ehp": "ehp-number"}.get(kind, "nihii-number")
    if field != expected_field:
        raise ClaimRefused(f"the STS does not certify {uri}")
    if not rest:
        return kind, field, ""
    # recognised<org>:boolean | recognised<org>:nihii11 | ehealth:1.0:cbe_daas_authorized:boolean
    if rest in ([f"recognised{kind}", "boolean"], _DAAS_AUTHORIZED):
        return kind, field, "boolean"
    if rest == [f"recognised{kind}", "nihii11"] and field == "nihii-number":
        return kind, field, "nihii11"
    raise ClaimRefused(f"the STS does not certify {uri}")


def _identifier(field: str, holder: HolderFacts, uri: str) -> str:
    value = {"cbe-number": holder.cbe, "ehp-number": holder.ehp}.get(field, holder.nihii)
    if value is None:
        raise ClaimRefused(f"cannot certify {uri}: the certificate carries no {field}")
    return value


def _same_identifier(sent: str, held: str) -> bool:
    """An 8-digit institution NIHII may be sent padded to 11 (`...000`), a CBE without its
    leading zero (a long in FHC)."""
    sent = sent.strip()
    return sent in (held, held.ljust(11, "0"), held.lstrip("0"))


# -- the SignChallenge round trip -------------------------------------------------------------

CHALLENGE_TTL = timedelta(minutes=5)  # the client answers at once (CONN, EC, EGK)
# (pending challenges are kept in the store: services/sts_challenges.py)


class ChallengeRefused(ValueError):
    pass


# -- renewal ----------------------------------------------------------------------------------


def renewable(not_on_or_after: datetime, now: datetime) -> bool:
    """Whether a token that runs out at `not_on_or_after` may still be renewed at `now`."""
    return now < not_on_or_after + RENEW_GRACE


def designators_for(profession: str | None) -> tuple[str, ...]:
    """The designators a connector asks for a holder of this certificate profession."""
    word = PROFESSION_WORDS.get(profession or "")
    if word is None:
        return ()
    return (f"{_PREFIX}{word}:nihii11", f"{_PREFIX}professional:{word}:boolean")
