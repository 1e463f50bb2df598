"""The same seed gives the same people and the same answers, run after run (fresh data dirs)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from simulator.domain.memberdata import GLOBAL_MEDICAL_FILE, INSURABILITY, FacetRequest
from tests.e2e.conftest import Running
from tests.support.server import start_server

FACETS = [
    FacetRequest(INSURABILITY, (("requestType", "invoicing"), ("contactType", "other"))),
    FacetRequest(GLOBAL_MEDICAL_FILE),
]


async def _answers(data_dir: Path) -> list[object]:
    server = start_server(data_dir, seed=4242)
    try:
        assert server.sim is not None
        gp = next(p for p in server.sim.population.providers if p.kind == "GP")
        run = Running(server, Path(), gp)
        run.keystore = run.keystore_for(gp, "gp")
        today = server.sim.clock.today()
        seen: list[object] = []
        async with run.client() as client:
            for patient in server.sim.population.patients[:12]:
                tariff = await client.tarification(patient.ssin, ["101032"], today)
                seen.append(([e.code for e in tariff.errors], [
                    (line.fee, line.reimbursement, line.patient_fee, line.financial_contract)
                    for line in tariff.lines
                ]))
                members = await client.member_data(
                    patient.ssin, today - timedelta(days=30), today, facets=FACETS
                )
                seen.append((members.status, members.detail_codes, members.blocks))
        return seen
    finally:
        server.stop()


async def test_two_fresh_simulators_with_one_seed_answer_alike(tmp_path: Path) -> None:
    first = await _answers(tmp_path / "one")
    second = await _answers(tmp_path / "two")
    assert first == second
    assert any(errors == [] for errors, _ in first[::2])  # some consultations were priced
