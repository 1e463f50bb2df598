"""Take the README's screenshots of the QA workbench (docs/img/ui-journal.png and
docs/img/ui-exchange.png): a simulator with the browser tests' traffic, headless Chromium.

    python tools/ui_screenshots.py            (needs chromium and `pip install playwright`)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.testing.handle import SimulatorHandle  # noqa: E402
from tests.support.server import start_server  # noqa: E402
from tests.ui.conftest import (  # noqa: E402
    LAUNCH_ARGS,
    REFUSE_196,
    _efact_post,
    _InThread,
    _refused_attestation,
    chromium_path,
    etk_call,
)

OUT = ROOT / "docs" / "img"
VIEWPORT = {"width": 1280, "height": 900}


def main() -> int:
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    if chromium is None:
        print("chromium is not installed", file=sys.stderr)
        return 1
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    work = Path(tempfile.mkdtemp(prefix="ui-shots-"))
    server = start_server(work / "data", patients=300, providers=40)
    try:
        handle = SimulatorHandle(server.base_url, work)
        handle.set_date(handle.today())
        for _ in range(2):
            etk_call(server.base_url)
        with handle.scenario(REFUSE_196):
            _InThread(_refused_attestation(handle))
        assert server.sim is not None
        _InThread(_efact_post(handle, server.sim.population_on(handle.today())))
        refused = handle.journal(service="eattest")[-1]["id"]
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(server.base_url + "/")
            page.wait_for_selector("#view tbody tr[data-id]")
            page.locator("#view h2").evaluate("e => e.blur()")
            height = page.evaluate("() => document.querySelector('.pager').offsetTop + 40")
            page.screenshot(
                path=str(OUT / "ui-journal.png"),
                clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height},
            )
            page.goto(f"{server.base_url}/__admin/ui#/exchange/{refused}")
            page.wait_for_selector("text=What the insurer answered (in clear)")
            page.locator("#view h2").evaluate("e => e.blur()")
            page.screenshot(path=str(OUT / "ui-exchange.png"))
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    for name in ("ui-journal.png", "ui-exchange.png"):
        print(f"{OUT / name}: {(OUT / name).stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
