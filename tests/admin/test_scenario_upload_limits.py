"""A scenario upload PyYAML cannot compose (too deep, too big) gets the admin API's usual 400
with its problems, not a plain-text 500, and leaves the running scenario alone."""

from __future__ import annotations

import pytest

from simulator.scenarios.loader import MAX_CHARACTERS, MAX_DEPTH
from tests.admin.conftest import Admin

DEEP = 50_000


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("[" * DEEP + "]" * DEEP, f"nested more than {MAX_DEPTH} levels"),
        ("rules: " + "{a: " * DEEP + "1" + "}" * DEEP, f"nested more than {MAX_DEPTH} levels"),
        ("#" * (MAX_CHARACTERS + 1), f"may have {MAX_CHARACTERS}"),
    ],
)
async def test_an_uncomposable_upload_is_a_400_with_problems(
    admin: Admin, body: str, says: str
) -> None:
    engine = admin.sim.scenarios
    answer = await admin.call(
        "PUT",
        "/__admin/scenario",
        data=body.encode(),
        headers={"Content-Type": "application/yaml"},
    )
    assert answer.status == 400, answer.body
    assert answer.headers["Content-Type"].startswith("application/json")
    assert "the running scenario is unchanged" in answer.body["error"]
    (problem,) = answer.body["problems"]
    assert says in problem["message"]
    assert admin.sim.scenarios is engine
