import pytest

from simulator.domain.sts import (
    CERTIFIED_NAMESPACE,
    HOLDER_SSIN,
    IDENTIFICATION_NAMESPACE,
    Claim,
    ClaimRefused,
    HolderFacts,
    certify,
    designators_for,
)

DOCTOR = HolderFacts(ssin="85073003328", nihii="19733263004", profession="PHYSICIAN")
PREFIX = "urn:be:fgov:person:ssin:ehealth:1.0:"


def test_certifies_ssin_nihii_and_profession_of_a_doctor():
    claims = (
        Claim(HOLDER_SSIN, ("85073003328",)),
        Claim(PREFIX + "doctor:nihii11"),
        Claim(PREFIX + "nihii:doctor:nihii11"),
        Claim(PREFIX + "professional:doctor:boolean"),
        Claim(PREFIX + "fpsph:doctor:boolean"),
    )
    got = [(a.name, a.namespace, a.value) for a in certify(claims, DOCTOR)]
    assert got == [
        (HOLDER_SSIN, IDENTIFICATION_NAMESPACE, "85073003328"),
        (PREFIX + "doctor:nihii11", CERTIFIED_NAMESPACE, "19733263004"),
        (PREFIX + "nihii:doctor:nihii11", CERTIFIED_NAMESPACE, "19733263004"),
        (PREFIX + "professional:doctor:boolean", CERTIFIED_NAMESPACE, "true"),
        (PREFIX + "fpsph:doctor:boolean", CERTIFIED_NAMESPACE, "true"),
    ]


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        (Claim(HOLDER_SSIN, ("17073003384",)), "belongs to 85073003328"),
        (Claim(PREFIX + "physiotherapist:nihii11"), "holder is doctor"),
        (
            Claim("urn:be:fgov:ehealth:1.0:pharmacy:nihii-number:recognisedpharmacy:nihii11"),
            "does not certify",
        ),
        (Claim(PREFIX + "something:odd:else:entirely"), "does not certify"),
    ],
)
def test_refuses_what_the_certificate_does_not_support(claim, reason):
    with pytest.raises(ClaimRefused, match=reason):
        certify((claim,), DOCTOR)


def test_nihii_needs_a_nihii_in_the_certificate():
    holder = HolderFacts(ssin="85073003328", nihii=None, profession="PHYSICIAN")
    with pytest.raises(ClaimRefused, match="no NIHII"):
        certify((Claim(PREFIX + "doctor:nihii11"),), holder)


def test_designators_round_trip_through_certify():
    for profession in ("PHYSICIAN", "DENTIST", "PHYSIOTHERAPIST"):
        holder = HolderFacts(ssin="85073003328", nihii="30202929001", profession=profession)
        claims = tuple(Claim(uri) for uri in designators_for(profession))
        assert len(certify(claims, holder)) == 2
    assert designators_for(None) == ()
