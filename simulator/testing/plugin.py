"""pytest plugin: a simulator per test session, reset before each test that uses it.

Fixtures:
    mycarenet_sim          the handle for one test: state reset, real clock, default scenario
                           (or what the test's markers ask); see `SimulatorHandle`
    mycarenet_sim_server   the session's handle, without the per-test reset

Markers:
    @pytest.mark.mycarenet_date("2025-11-17")      the business date the test runs on
    @pytest.mark.mycarenet_scenario("eattest-rejections")   a shipped scenario (or YAML text)

Options (or environment variables):
    --mycarenet-sim-url URL          use a running simulator instead of starting one
                                     (MYCARENET_SIM_URL)
    --mycarenet-sim-admin-token TOK  its admin token when it is not on loopback
                                     (MYCARENET_SIM_ADMIN_TOKEN)
    --mycarenet-sim-seed N           the population seed of the simulator the plugin starts
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from simulator.testing.handle import SimulatorHandle


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mycarenet-sim", "MyCareNet simulator")
    group.addoption(
        "--mycarenet-sim-url",
        default=os.environ.get("MYCARENET_SIM_URL"),
        help="base URL of a running simulator (default: start one per session)",
    )
    group.addoption(
        "--mycarenet-sim-admin-token",
        default=os.environ.get("MYCARENET_SIM_ADMIN_TOKEN"),
        help="admin token of that simulator, when it does not listen on loopback",
    )
    group.addoption(
        "--mycarenet-sim-seed", type=int, default=None, help="population seed of the one started"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "mycarenet_date(day): the business date (YYYY-MM-DD) the test runs on"
    )
    config.addinivalue_line(
        "markers", "mycarenet_scenario(name): a shipped scenario name, or YAML text, for the test"
    )


@pytest.fixture(scope="session")
def mycarenet_sim_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimulatorHandle]:
    from simulator.testing.handle import SimulatorHandle

    work_dir = tmp_path_factory.mktemp("mycarenet-sim")
    url = request.config.getoption("mycarenet_sim_url")
    token = request.config.getoption("mycarenet_sim_admin_token")
    if url:
        yield SimulatorHandle(str(url).rstrip("/"), work_dir, token)
        return
    from dataclasses import replace

    from simulator.config import Settings
    from simulator.server.background import BackgroundServer

    settings = Settings(data_dir=work_dir / "data", port=0, no_delay=True)
    seed = request.config.getoption("mycarenet_sim_seed")
    if seed is not None:
        settings = replace(settings, seed=int(seed))
    server = BackgroundServer(settings).start()
    try:
        yield SimulatorHandle(server.base_url, work_dir)
    finally:
        server.stop()


@pytest.fixture
def mycarenet_sim(
    mycarenet_sim_server: SimulatorHandle, request: pytest.FixtureRequest
) -> Iterator[SimulatorHandle]:
    sim = mycarenet_sim_server
    sim.reset()
    day = request.node.get_closest_marker("mycarenet_date")
    if day is not None:
        sim.set_date(date.fromisoformat(str(day.args[0])))
    scenario = request.node.get_closest_marker("mycarenet_scenario")
    if scenario is not None:
        sim.use_scenario(str(scenario.args[0]))
    yield sim
    if scenario is not None:
        sim.use_scenario("default")
