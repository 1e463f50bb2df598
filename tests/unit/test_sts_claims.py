from datetime import UTC, datetime, timedelta

import pytest

from simulator.domain.sts import (
    CERTIFIED_NAMESPACE,
    HOLDER_SSIN,
    IDENTIFICATION_NAMESPACE,
    PROFESSION_WORDS,
    USER_SESSION,
    Claim,
    ClaimRefused,
    HolderFacts,
    certify,
    designators_for,
    renewable,
    split_holder_name,
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
            "holder is a person",
        ),
        (Claim("urn:be:fgov:person:ssin:nurse:boolean"), "holder is doctor"),
        (Claim(PREFIX + "professional:doctor:nihii11"), "does not certify"),
        (Claim("urn:be:fgov:person:ssin:doctor:nihii11"), "does not certify"),
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


# --- issue 10: every designator real clients send (client-quirks 0c, 4, 5, 12, 13, 3) -------

PERSON = "urn:be:fgov:person:ssin:"
EHEALTH = "urn:be:fgov:ehealth:1.0:"
NAMED_DOCTOR = HolderFacts(
    ssin="85073003328",
    nihii="19733263004",
    profession="PHYSICIAN",
    given_name="Jan",
    surname="Peeters",
)


def _values(claims: tuple[Claim, ...], holder: HolderFacts) -> dict[str, str]:
    return {a.name: a.value for a in certify(claims, holder)}


def test_fhc_doctor_set_with_doctor_boolean_and_names() -> None:
    # FHC/IFHC STSServiceImpl.kt "doctor"; EGK genIns.config asks doctor:boolean too.
    claims = (
        Claim(HOLDER_SSIN, ("85073003328",)),
        Claim(PERSON.rstrip(":"), ("85073003328",)),
        Claim(PERSON + "doctor:boolean"),
        Claim(PREFIX + "doctor:nihii11"),
        Claim(PREFIX + "givenname"),
        Claim(PREFIX + "surname"),
        Claim(PREFIX + "fpsph:doctor:boolean"),
    )
    assert _values(claims, NAMED_DOCTOR) == {
        HOLDER_SSIN: "85073003328",
        "urn:be:fgov:person:ssin": "85073003328",
        PERSON + "doctor:boolean": "true",
        PREFIX + "doctor:nihii11": "19733263004",
        PREFIX + "givenname": "Jan",
        PREFIX + "surname": "Peeters",
        PREFIX + "fpsph:doctor:boolean": "true",
    }


@pytest.mark.parametrize(
    ("profession", "word"),
    [
        ("NURSE", "nurse"),
        ("PHYSIOTHERAPIST", "physiotherapist"),
        ("MIDWIFE", "midwife"),
        ("DENTIST", "dentist"),
        ("PHARMACIST", "pharmacist"),
        ("LOGOPEDIST", "logopedist"),
        ("DIETICIAN", "dietician"),
        ("CLINICAL_PSYCHOLOGIST", "clinicalpsychologist"),
        ("OPTICIAN", "optician"),
        ("PODOLOGIST", "podologist"),
    ],
)
def test_every_profession_in_every_form(profession: str, word: str) -> None:
    holder = HolderFacts(
        ssin="85073003328",
        nihii="41234567001",
        profession=profession,
        given_name="An",
        surname="Janssens",
    )
    uris = (
        PERSON + f"{word}:boolean",
        PREFIX + f"{word}:nihii11",
        PREFIX + f"nihii:{word}:nihii11",
        PREFIX + f"professional:{word}:boolean",
        PREFIX + f"fpsph:{word}:boolean",
    )
    got = _values(tuple(Claim(u) for u in uris), holder)
    assert [got[u] for u in uris] == ["true", "41234567001", "41234567001", "true", "true"]
    other = "doctor" if word != "doctor" else "nurse"
    with pytest.raises(ClaimRefused, match=f"holder is {word}"):
        certify((Claim(PREFIX + f"nihii:{other}:nihii11"),), holder)


def test_every_certificate_profession_has_a_word() -> None:
    from simulator.security.pki import PROFESSIONS_ANY_DIGIT, PROFESSIONS_BY_DIGIT

    professions = {p for ps in PROFESSIONS_BY_DIGIT.values() for p in ps}
    assert professions | set(PROFESSIONS_ANY_DIGIT) <= set(PROFESSION_WORDS)


def test_ifhc_physiotherapist_user_session() -> None:
    holder = HolderFacts(ssin="85073003328", nihii="54263481527", profession="PHYSIOTHERAPIST")
    assert _values((Claim(USER_SESSION),), holder) == {USER_SESSION: "true"}


def test_names_need_a_name() -> None:
    holder = HolderFacts(ssin="85073003328", nihii="19733263004", profession="PHYSICIAN")
    with pytest.raises(ClaimRefused, match="no givenname"):
        certify((Claim(PREFIX + "givenname"),), holder)


def test_split_holder_name() -> None:
    assert split_holder_name("Jan Peeters") == ("Jan", "Peeters")
    assert split_holder_name("Marie Van den Bossche") == ("Marie", "Van den Bossche")
    assert split_holder_name("Cher") == (None, "Cher")
    assert split_holder_name(None) == (None, None)


HOSPITAL = HolderFacts(ssin=None, nihii="71022212", profession=None, organisation="hospital")


def test_hospital_as_egk_asks_it() -> None:
    # EGK genIns.config: two attributes with the 8-digit NIHII, two designators.
    claims = (
        Claim(EHEALTH + "hospital:nihii-number", ("71022212",)),
        Claim(EHEALTH + "certificateholder:hospital:nihii-number", ("71022212",)),
        Claim(EHEALTH + "certificateholder:hospital:nihii-number:recognisedhospital:boolean"),
        Claim(EHEALTH + "hospital:nihii-number:recognisedhospital:nihii11"),
    )
    got = certify(claims, HOSPITAL)
    assert [(a.value, a.namespace) for a in got] == [
        ("71022212", IDENTIFICATION_NAMESPACE),
        ("71022212", IDENTIFICATION_NAMESPACE),
        ("true", CERTIFIED_NAMESPACE),
        ("71022212000", CERTIFIED_NAMESPACE),  # what the pipeline reads as the caller NIHII
    ]


@pytest.mark.parametrize(
    "kind",
    [
        "medicalhouse",
        "guardpost",
        "sortingcenter",
        "officedoctors",
        "groupofnurses",
        "reeducation",
        "pharmacy",
    ],
)
def test_fhc_organisation_sets(kind: str) -> None:
    holder = HolderFacts(ssin=None, nihii="94123456", profession=None, organisation=kind)
    claims = (
        Claim(EHEALTH + f"{kind}:nihii-number", ("94123456000",)),  # padded to 11: accepted
        Claim(EHEALTH + f"certificateholder:{kind}:nihii-number", ("94123456",)),
        Claim(EHEALTH + f"{kind}:nihii-number:recognised{kind}:nihii11"),
        Claim(EHEALTH + f"{kind}:nihii-number:recognised{kind}:boolean"),
        Claim(EHEALTH + f"certificateholder:{kind}:nihii-number:recognised{kind}:boolean"),
        Claim(EHEALTH + "certificateholder:recognisedorganization:boolean"),
    )
    values = [a.value for a in certify(claims, holder)]
    assert values == ["94123456000", "94123456", "94123456000", "true", "true", "true"]


def test_enterprise_and_ehp() -> None:
    enterprise = HolderFacts(
        ssin=None, nihii=None, profession=None, organisation="enterprise", cbe="0820563481"
    )
    claims = (
        Claim(EHEALTH + "certificateholder:enterprise:cbe-number", ("820563481",)),
        Claim(
            EHEALTH
            + "certificateholder:enterprise:cbe-number:ehealth:1.0:cbe_daas_authorized:boolean"
        ),
        Claim("urn:be:fgov:kbo-bce:organization:cbe-number"),
    )
    assert [a.value for a in certify(claims, enterprise)] == ["820563481", "true", "0820563481"]
    ehp = HolderFacts(ssin=None, nihii=None, profession=None, organisation="ehp", ehp="1990000123")
    claims = (
        Claim(EHEALTH + "organization:ehp-number", ("1990000123",)),
        Claim(EHEALTH + "certificateholder:organization:ehp-number", ("1990000123",)),
        Claim(EHEALTH + "organization:ehp-number:recognisedehp:boolean"),
    )
    assert [a.value for a in certify(claims, ehp)] == ["1990000123", "1990000123", "true"]


@pytest.mark.parametrize(
    ("claim", "holder", "reason"),
    [
        (Claim(EHEALTH + "hospital:nihii-number", ("71099999",)), HOSPITAL, "belongs to 71022212"),
        (
            Claim(EHEALTH + "medicalhouse:nihii-number", ("71022212",)),
            HOSPITAL,
            "not a medicalhouse",
        ),
        (Claim(HOLDER_SSIN, ("85073003328",)), HOSPITAL, "organisation"),
        (Claim(PREFIX + "doctor:nihii11"), HOSPITAL, "organisation"),
        (
            Claim(EHEALTH + "hospital:nihii-number:recognisedhospital:nihii12"),
            HOSPITAL,
            "does not certify",
        ),
        (Claim(EHEALTH + "hospital:cbe-number"), HOSPITAL, "does not certify"),
        (Claim(EHEALTH + "hospital:nihii-number"), DOCTOR, "holder is a person"),
    ],
)
def test_organisation_refusals(claim: Claim, holder: HolderFacts, reason: str) -> None:
    with pytest.raises(ClaimRefused, match=reason):
        certify((claim,), holder)


def test_a_claim_asked_twice_is_certified_once() -> None:
    # FHC sends certificateholder:<org>:nihii-number as attribute and as designator.
    claims = (
        Claim(EHEALTH + "certificateholder:hospital:nihii-number", ("71022212",)),
        Claim(EHEALTH + "certificateholder:hospital:nihii-number"),
    )
    assert len(certify(claims, HOSPITAL)) == 1


NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_renewable_within_the_grace() -> None:
    assert renewable(NOW + timedelta(hours=1), NOW)
    assert renewable(NOW - timedelta(hours=11), NOW)
    assert not renewable(NOW - timedelta(hours=13), NOW)
