"""MemberData over HTTP: the "no supp" special status of automatic BIM (S-FAQ-INAMI)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simulator.domain.memberdata import NO_SUPPLEMENT, PAYMENT, SPECIAL_STATUS, SUCCESS
from tests.e2e.conftest import Running


@pytest.mark.parametrize(("situation", "status"), [("bim", NO_SUPPLEMENT), ("bim-income", None)])
async def test_automatic_bim_is_answered_no_supp(
    running: Running, situation: str, status: str | None
) -> None:
    patient = running.population.situation(situation)
    today = running.sim.clock.today()
    async with running.client() as client:
        result = await client.member_data(patient.ssin, today, today + timedelta(days=1))
    assert result.status == SUCCESS
    (payment,) = result.attributes(PAYMENT)
    assert payment["urn:be:cin:nippin:payment:byIO"] == "true"  # BIM either way
    assert payment.get(SPECIAL_STATUS) == status
