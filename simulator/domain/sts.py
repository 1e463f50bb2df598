"""What the eHealth STS certifies for a certificate holder (wire-formats 1.9).

The STS answers a request for attribute designators with the values it can certify from the
caller's certificate. A designator it cannot certify (a doctor asking for a physiotherapist
NIHII) is a refusal, as the real STS gives.
"""

from __future__ import annotations

from dataclasses import dataclass

IDENTIFICATION_NAMESPACE = "urn:be:fgov:identification-namespace"
CERTIFIED_NAMESPACE = "urn:be:fgov:certified-namespace:ehealth"
HOLDER_SSIN = "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin"
PERSON_SSIN = "urn:be:fgov:person:ssin"
_PREFIX = "urn:be:fgov:person:ssin:ehealth:1.0:"

# Certificate profession (from the NIHII-<PROFESSION> field) -> the STS's profession word.
PROFESSION_WORDS = {
    "PHYSICIAN": "doctor",
    "DENTIST": "dentist",
    "PHYSIOTHERAPIST": "physiotherapist",
    "NURSE": "nurse",
    "PHARMACIST": "pharmacist",
    "MIDWIFE": "midwife",
}


@dataclass(frozen=True)
class Claim:
    uri: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class HolderFacts:
    """What the caller's certificate says about them."""

    ssin: str
    nihii: str | None
    profession: str | None  # certificate profession, e.g. PHYSICIAN


@dataclass(frozen=True)
class CertifiedAttribute:
    name: str
    namespace: str
    value: str


class ClaimRefused(ValueError):
    pass


def certify(claims: tuple[Claim, ...], holder: HolderFacts) -> list[CertifiedAttribute]:
    """The attributes to put in the assertion, or `ClaimRefused` with the reason."""
    word = PROFESSION_WORDS.get(holder.profession or "")
    attributes: list[CertifiedAttribute] = []
    for claim in claims:
        if claim.uri in (HOLDER_SSIN, PERSON_SSIN):
            if claim.values and claim.values[0] != holder.ssin:
                raise ClaimRefused(
                    f"claim {claim.uri} asks for SSIN {claim.values[0]} but the certificate "
                    f"belongs to {holder.ssin}"
                )
            attributes.append(CertifiedAttribute(claim.uri, IDENTIFICATION_NAMESPACE, holder.ssin))
            continue
        attributes.append(_certified(claim.uri, word, holder))
    return attributes


def _certified(uri: str, word: str | None, holder: HolderFacts) -> CertifiedAttribute:
    if not uri.startswith(_PREFIX):
        raise ClaimRefused(f"the STS does not certify {uri}")
    parts = uri[len(_PREFIX) :].split(":")
    asked = _asked_profession(parts)
    if asked is None:
        raise ClaimRefused(f"the STS does not certify {uri}")
    if asked != word:
        held = word or "no recognised profession"
        raise ClaimRefused(f"cannot certify {uri}: the certificate holder is {held}")
    if parts[-1] == "nihii11":
        if holder.nihii is None:
            raise ClaimRefused(f"cannot certify {uri}: the certificate carries no NIHII")
        return CertifiedAttribute(uri, CERTIFIED_NAMESPACE, holder.nihii)
    return CertifiedAttribute(uri, CERTIFIED_NAMESPACE, "true")


def _asked_profession(parts: list[str]) -> str | None:
    # Forms: nihii:<word>:nihii11 | <word>:nihii11 | professional:<word>:boolean |
    #        fpsph:<word>:boolean
    if len(parts) == 3 and parts[0] in ("nihii", "professional", "fpsph"):
        return parts[1]
    if len(parts) == 2 and parts[1] == "nihii11":
        return parts[0]
    return None


def designators_for(profession: str | None) -> tuple[str, ...]:
    """The designators a connector asks for a holder of this certificate profession."""
    word = PROFESSION_WORDS.get(profession or "")
    if word is None:
        return ()
    return (f"{_PREFIX}{word}:nihii11", f"{_PREFIX}professional:{word}:boolean")
