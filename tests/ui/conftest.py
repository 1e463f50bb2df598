"""A real simulator with some traffic, and headless Chromium driven by Playwright.

The browser is Debian's chromium (/usr/bin/chromium, or MYCARENET_CHROMIUM): Playwright never
downloads one here. Without chromium or Playwright the tests skip, unless
MYCARENET_REQUIRE_BROWSER is set (CI), where they fail instead.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simulator.client import eattest as client_eattest
from simulator.client import genasync as ga_client
from simulator.codecs import etkdepot
from simulator.codecs.eattest import ServiceLine
from simulator.domain.population import Population
from simulator.efact.generator import InjectedFault, Spec, generate
from simulator.efact.parser import parse
from simulator.soap.envelope import new_envelope, serialize
from simulator.testing.handle import SimulatorHandle
from tests.support.server import ServerThread, start_server

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
# Every SendAttestation is refused with 196 (sealed answer: only the journal can show it).
REFUSE_196 = """\
name: refuse-196
rules:
  - id: refuse-with-196
    match: {service: eattest, operation: SendAttestation}
    action: {type: reject, code: "196"}
"""


def chromium_path() -> str | None:
    found = (
        os.environ.get("MYCARENET_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    return found if found and Path(found).exists() else None


# Module scope, not session: Playwright's sync API runs an event loop in this thread while
# the browser is open, and the async tests of later modules need the thread to themselves.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    required = bool(os.environ.get("MYCARENET_REQUIRE_BROWSER"))
    chromium = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if chromium is None or sync_playwright is None:
        missing = "chromium" if chromium is None else "the playwright package"
        if required:
            pytest.fail(f"MYCARENET_REQUIRE_BROWSER is set but {missing} is missing")
        pytest.skip(f"{missing} is not installed (set MYCARENET_REQUIRE_BROWSER to require it)")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@dataclass
class Site:
    server: ServerThread
    handle: SimulatorHandle
    refused_id: int  # the journal id of the eAttest refused with 196
    efact_id: int  # the journal id of the GenAsync post of a faulty 920000
    injected: list[InjectedFault]

    @property
    def url(self) -> str:
        return self.server.base_url


def etk_call(base_url: str) -> int:
    import requests

    request = etkdepot.build_request("CBE", "0820563481", None)
    answer = requests.post(
        base_url + "/EtkDepot/v1",
        data=serialize(new_envelope(request)),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
        timeout=30,
    )
    return answer.status_code


async def _efact_post(handle: SimulatorHandle, population: Population) -> list[InjectedFault]:
    """A small 920000 with one fault in each invoice, posted to GenAsync (HCPFAC)."""
    out = io.BytesIO()
    spec = Spec(invoices=3, error_rate=1.0, seed=4, today=handle.today(), sending_number=7,
                faults=("niss", "nomenclature"))  # fmt: skip
    injected = generate(out, population, spec)
    content = out.getvalue()
    header, _ = parse(content)
    async with handle.client() as client:
        await ga_client.post(client, "hcpfac", content, message_name="HCPFAC",
                             destination_io="300", input_reference=header.zone200("204"))  # fmt: skip
    return injected


async def _refused_attestation(handle: SimulatorHandle) -> None:
    patient = handle.patient_ref(situation="random", insured_today=True, bim=False)
    line = ServiceLine(code="101032", day=handle.today(), amount=Decimal("30.00"))
    async with handle.client() as client:
        await client_eattest.send_attestation(client, patient, [line])


class _InThread:
    """Run a coroutine to its end in a thread of its own: Playwright's sync API keeps an
    event loop in the test's thread."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        self.result: Any = None
        worker = threading.Thread(target=self._run, args=(coroutine,))
        worker.start()
        worker.join()

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        self.result = asyncio.run(coroutine)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("ui")
    server = start_server(work / "data", patients=300, providers=40)
    handle = SimulatorHandle(server.base_url, work)
    handle.set_date(handle.today())
    for _ in range(3):
        assert etk_call(server.base_url) == 200
    with handle.scenario(REFUSE_196):
        # In a thread of its own: Playwright's sync API keeps an event loop in this one.
        _InThread(_refused_attestation(handle))
    refused = handle.journal(service="eattest", outcome="business-error")
    assert refused and refused[-1]["code"] == "196"
    assert server.sim is not None
    posting = _InThread(_efact_post(handle, server.sim.population_on(handle.today())))
    posted = handle.journal(service="genasync", operation="post")
    yield Site(server, handle, int(refused[-1]["id"]), int(posted[-1]["id"]), posting.result)
    server.stop()


@pytest.fixture
def page(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"
