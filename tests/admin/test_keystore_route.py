"""POST /__admin/keystores: a provider's keystore from the running simulator's test PKI."""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from simulator.client import ConnectorClient
from simulator.domain.identifiers import make_nihii
from simulator.security.pki import parse_subject
from tests.admin.conftest import Admin, Answer

PATH = "/__admin/keystores"
# Valid identifiers that are not in the population.
OUTSIDER_NIHII, OUTSIDER_SSIN = make_nihii("199999", "003"), "62040858223"


async def issue(admin: Admin, **body: object) -> Answer:
    return await admin.call("POST", PATH, json={"password": "secret", **body})


def keystore_file(answer: Answer, tmp_path: Path, name: str) -> tuple[Path, Path]:
    keystore, ca = tmp_path / f"{name}.p12", tmp_path / f"{name}-ca.pem"
    keystore.write_bytes(base64.b64decode(answer.body["pkcs12_base64"]))
    ca.write_text(answer.body["ca_pem"])
    return keystore, ca


async def gets_a_token(admin: Admin, keystore: Path, ca: Path) -> bool:
    async with ConnectorClient(admin.server.base_url, keystore, "secret", ca_cert=ca) as client:
        await client.token()
    return True


async def test_the_nth_provider_of_a_kind(admin: Admin, tmp_path: Path) -> None:
    gp = admin.sim.population.providers_of_kind("GP")[2]
    answer = await issue(admin, kind="GP", index=2)
    assert answer.status == 201, answer.body
    assert answer.body["nihii"] == gp.nihii
    assert answer.body["ssin"] == gp.ssin
    assert answer.body["name"] == f"{gp.first_name} {gp.last_name}"
    assert answer.body["password"] == "secret"
    loaded = pkcs12.load_pkcs12(base64.b64decode(answer.body["pkcs12_base64"]), b"secret")
    assert loaded.cert is not None
    subject = parse_subject(loaded.cert.certificate)
    assert (subject.nihii, subject.ssin) == (gp.nihii, gp.ssin)
    assert answer.body["subject"] == loaded.cert.certificate.subject.rfc4514_string()
    ca = x509.load_pem_x509_certificate(answer.body["ca_pem"].encode())
    assert ca == admin.sim.pki.ca.cert
    assert await gets_a_token(admin, *keystore_file(answer, tmp_path, "gp"))


async def test_a_second_keystore_for_the_same_nihii_leaves_the_first_working(
    admin: Admin, tmp_path: Path
) -> None:
    first = await issue(admin, kind="DENTIST", index=0, key_type="ec")
    second = await issue(admin, nihii=first.body["nihii"])
    assert (first.status, second.status) == (201, 201)
    assert first.body["pkcs12_base64"] != second.body["pkcs12_base64"]
    recorded = [
        path.name
        for path, _ in admin.sim.pki.provider_certificate_files()
        if path.name.startswith(first.body["nihii"])
    ]
    assert len(recorded) >= 2  # the newest as <nihii>.pem, the earlier one archived
    assert await gets_a_token(admin, *keystore_file(first, tmp_path, "first"))
    assert await gets_a_token(admin, *keystore_file(second, tmp_path, "second"))


async def test_a_provider_outside_the_population(admin: Admin) -> None:
    assert admin.sim.population.provider(OUTSIDER_NIHII) is None
    answer = await issue(admin, nihii=OUTSIDER_NIHII, ssin=OUTSIDER_SSIN, name="Dr Outside")
    assert answer.status == 201, answer.body
    assert (answer.body["nihii"], answer.body["name"]) == (OUTSIDER_NIHII, "Dr Outside")
    assert "OU=Dr Outside" in answer.body["subject"]


async def test_refusals_say_what_is_wrong(admin: Admin) -> None:
    gps = len(admin.sim.population.providers_of_kind("GP"))
    cases = [
        ({"kind": "GP"}, 400, '"password" is required', False),
        ({"kind": "GP", "index": gps}, 404, f"has {gps} providers of kind GP", True),
        ({"kind": "ASTRONAUT"}, 404, "kind must be one of", True),
        ({"nihii": OUTSIDER_NIHII}, 404, "give its ssin too", True),
        ({"nihii": OUTSIDER_NIHII[:-4] + "0003", "ssin": OUTSIDER_SSIN}, 400, "check", True),
        ({"nihii": OUTSIDER_NIHII, "kind": "GP"}, 400, "not both", True),
        ({"ssin": OUTSIDER_SSIN}, 400, "ssin needs nihii", True),
        ({"kind": "GP", "key_type": "dsa"}, 400, "key_type must be", True),
        ({"kind": "GP", "index": True}, 400, "index must be", True),
        ({}, 400, '"password" is required', False),
    ]
    for body, status, words, with_password in cases:
        answer = await (
            issue(admin, **body) if with_password else admin.call("POST", PATH, json=body)
        )
        assert answer.status == status, (body, answer.body)
        assert words in answer.body["error"], (body, answer.body)


async def test_a_form_body_is_refused(admin: Admin) -> None:
    answer = await admin.call("POST", PATH, data="password=x&kind=GP")
    assert answer.status == 415
