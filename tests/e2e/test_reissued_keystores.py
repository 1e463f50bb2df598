"""Several keystores for one holder: issued again (a lost keystore, a renewal) or an EC one
beside the RSA one. Every certificate still valid keeps working with sealed services."""

from __future__ import annotations

from datetime import timedelta

from simulator.domain.population import Patient
from tests.e2e.conftest import Running


def _insured(running: Running) -> Patient:
    today = running.sim.clock.today()
    return next(
        p for p in running.population.patients
        if p.situation == "random" and p.period_on(today) is not None and p.death_date is None
    )  # fmt: skip


async def test_a_keystore_issued_earlier_for_the_same_gp_still_reads_its_sealed_answers(
    running: Running,
) -> None:
    """The ETK depot serves the newest certificate, which the client puts in Reply-to-Etk;
    the answer is also sealed for the certificate that sealed the request, so the first
    keystore opens it (it used to fail: "SealError ... not for me")."""
    gp = running.provider
    first = running.keystore_for(gp, "first")
    second = running.keystore_for(gp, "second")
    patient = _insured(running)
    today = running.sim.clock.today()
    for keystore in (first, second):
        async with running.client(keystore) as client:
            answer = await client.member_data(patient.ssin, today, today + timedelta(days=1))
        assert answer.accepted, (answer.status, answer.detail_codes)


async def test_an_ec_keystore_beside_the_rsa_one_does_not_take_over_the_etk(
    running: Running,
) -> None:
    """ETKs use RSA key transport: the depot keeps serving the holder's RSA certificate even
    when an EC keystore was issued after it (it used to serve the EC one: SOA-00001)."""
    gp = running.provider
    rsa_keystore = running.keystore_for(gp, "rsa")
    running.keystore_for(gp, "ec", key_type="ec")
    patient = _insured(running)
    today = running.sim.clock.today()
    async with running.client(rsa_keystore) as client:
        answer = await client.member_data(patient.ssin, today, today + timedelta(days=1))
    assert answer.accepted, (answer.status, answer.detail_codes)
