"""The QA workbench in headless Chromium: the live journal and its filters, one exchange with
its sealed eAttest answer in clear, scenario problems on their lines, the clock, the
population, a conformance run started from the page, and keyboard use and labels.

Screenshots land in test-artifacts/ui/ (ignored by git), one per test.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from tests.support.server import ServerThread, start_server
from tests.ui.conftest import Site, etk_call

UI = "/__admin/ui"
TIMEOUT_MS = 15_000


def open_view(page: Any, site: Site, view: str) -> None:
    page.goto(f"{site.url}{UI}#/{view}")
    page.wait_for_selector("#view h2", timeout=TIMEOUT_MS)


def wait_until(page: Any, condition: str, timeout_ms: int = TIMEOUT_MS) -> None:
    """Poll a JavaScript condition (an expression): the page's CSP forbids eval, which
    Playwright's wait_for_function needs, whereas evaluate goes through the debugger."""
    waited = 0
    while not page.evaluate(f"() => Boolean({condition})"):
        if waited >= timeout_ms:
            raise AssertionError(f"still false after {timeout_ms} ms: {condition}")
        page.wait_for_timeout(100)
        waited += 100


def journal_ids(page: Any) -> list[int]:
    cells = page.locator("#view table tbody tr[data-id]")
    return [int(cells.nth(i).get_attribute("data-id")) for i in range(cells.count())]


def test_slash_opens_the_journal_newest_first_and_new_exchanges_stream_in(
    page: Any, site: Site
) -> None:
    page.goto(site.url + "/")
    assert page.url.endswith(f"{UI}") or f"{UI}#" in page.url
    page.wait_for_selector("#view table tbody tr[data-id]", timeout=TIMEOUT_MS)
    before = journal_ids(page)
    assert before == sorted(before, reverse=True) and len(before) >= 5
    caller = threading.Thread(target=etk_call, args=(site.url,))
    caller.start()
    caller.join()
    wait_until(
        page,
        f"document.querySelector('#view tbody tr').dataset.id > {before[0]}",
    )
    after = journal_ids(page)
    assert after[0] > before[0] and after[1:] == before[: len(after) - 1]
    assert "new" in (page.locator("#view tbody tr").first.get_attribute("class") or "")
    summary = page.locator("#view p[aria-live]").first.inner_text()
    assert re.search(rf"of {len(before) + 1} exchanges", summary), summary


def test_filters_narrow_the_journal(page: Any, site: Site) -> None:
    open_view(page, site, "journal")
    page.get_by_label("Outcome").select_option("business-error")
    page.get_by_role("button", name="Apply filters").click()
    wait_until(
        page,
        "[...document.querySelectorAll('#view tbody tr[data-id]')].length === 1",
    )
    assert journal_ids(page) == [site.refused_id]
    assert page.locator("#view tbody td.code").first.inner_text() == "196"
    page.get_by_role("button", name="Clear").click()
    wait_until(
        page,
        "document.querySelectorAll('#view tbody tr[data-id]').length > 1",
    )
    reference = site.handle.journal(service="eattest")[-1]["reference"]
    assert reference
    page.get_by_label("Reference").fill(reference[-6:])
    page.get_by_label("Service").fill("eattest")
    page.get_by_label("Reference").press("Enter")
    wait_until(
        page,
        "[...document.querySelectorAll('#view tbody tr[data-id]')].length === 1",
    )
    assert journal_ids(page) == [site.refused_id]
    page.get_by_label("Code").fill("no-such-code")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_selector("text=No exchange matches.", timeout=TIMEOUT_MS)


def test_an_exchange_shows_its_sealed_answer_in_clear(page: Any, site: Site) -> None:
    open_view(page, site, "journal")
    page.get_by_role("link", name=f"Open exchange {site.refused_id}").click()
    page.wait_for_selector("text=What the insurer answered (in clear)", timeout=TIMEOUT_MS)
    assert page.url.endswith(f"#/exchange/{site.refused_id}")
    answer = page.get_by_role("region", name="What the insurer answered (in clear)")
    assert answer.locator(".codes .code").first.inner_text() == "196"
    assert "CD-ERROR" in answer.locator("pre").inner_text()
    request = page.get_by_role("region", name="What the request carried (unsealed)")
    assert "<kmehr" in request.locator("pre").inner_text() or "kmehr" in request.inner_text()
    security = page.get_by_role("region", name="Security verdict")
    assert "valid" in security.inner_text()
    stages = page.get_by_role("region", name="Pipeline stages").inner_text()
    for stage in ("parse", "security", "handle", "sign"):
        assert stage in stages
    assert "No scenario rule fired" not in page.get_by_role("region", name="Scenario").inner_text()
    blobs = page.get_by_role("region", name="Blobs, decoded").inner_text()
    assert "encryptedForKnownRecipient" in blobs  # the answer's Detail as sent: sealed
    curl = page.get_by_role("region", name="Copy as curl")
    assert curl.locator("pre").inner_text().startswith("curl -sS -X POST")
    curl.get_by_role("button", name="Copy as curl").click()
    wait_until(
        page,
        "document.querySelector('[aria-label=\"Copy as curl\"] span[aria-live]')"
        ".textContent.trim() !== ''",
    )


BAD_SCENARIO = """\
name: broken
rules:
  - id: one
    match: {service: eattest}
    action: {type: no-such-action}
"""


def test_a_bad_scenario_shows_its_problems_on_their_lines(page: Any, site: Site) -> None:
    open_view(page, site, "scenario")
    editor = page.get_by_label("Scenario file", exact=True)
    editor.fill(BAD_SCENARIO)
    page.get_by_role("button", name="Validate", exact=True).click()
    problems = page.get_by_role("group", name="Problems of the scenario file")
    problems.wait_for(timeout=TIMEOUT_MS)
    bad_lines = problems.locator("pre.lines span.line.bad")
    assert bad_lines.count() >= 1
    numbers = [int(bad_lines.nth(i).get_attribute("data-line")) for i in range(bad_lines.count())]
    assert 5 in numbers, numbers  # the action line
    assert "no-such-action" in problems.inner_text()
    problems.get_by_role("button", name="line 5").first.click()
    cursor = editor.evaluate("e => e.value.slice(0, e.selectionStart).split('\\n').length")
    assert cursor == 5
    # The running scenario is unchanged; a valid file is said to be valid.
    assert site.handle.admin("GET", "scenarios")["active"]["name"] == "default"
    editor.fill("name: fine\nrules: []\n")
    page.get_by_role("button", name="Validate", exact=True).click()
    page.wait_for_selector("text=Valid: fine, 0 rule(s).", timeout=TIMEOUT_MS)


def test_the_clock_is_set_frozen_and_advanced(page: Any, site: Site) -> None:
    before = site.handle.today()
    open_view(page, site, "scenario")
    page.get_by_label("Business instant (Brussels time)").fill("2025-11-03T09:30:00")
    page.get_by_label("Frozen").check()
    page.get_by_role("button", name="Set clock").click()
    wait_until(
        page,
        "document.getElementById('clock-status').textContent.includes('2025-11-03')",
    )
    clock = site.handle.admin("GET", "clock")
    assert (clock["today"], clock["frozen"]) == ("2025-11-03", True)
    assert clock["now"].startswith("2025-11-03T08:30:00")  # 09:30 in Brussels
    page.get_by_label("Days (negative: back)").fill("2")
    page.get_by_role("button", name="Advance").click()
    wait_until(
        page,
        "document.getElementById('clock-status').textContent.includes('2025-11-05')",
    )
    site.handle.set_date(before)


def test_the_population_is_found_by_flags(page: Any, site: Site) -> None:
    open_view(page, site, "population")
    page.locator("#flags-BIM").check()
    page.locator("#without-DMG").check()
    page.get_by_role("button", name="Find patients").click()
    wait_until(
        page,
        "document.querySelector('#view table caption')?.textContent.includes('patients')",
    )
    page.wait_for_timeout(300)
    rows = page.locator("#view table tbody tr")
    assert rows.count() >= 1
    for i in range(rows.count()):
        flags = rows.nth(i).locator("td").last.inner_text().split()
        assert "BIM" in flags and "DMG" not in flags
    first = rows.first.locator("a")
    ssin = first.inner_text()
    first.click()
    page.wait_for_selector("text=Insurability", timeout=TIMEOUT_MS)
    assert ssin in page.locator("#view h2").inner_text()
    assert page.get_by_role("heading", name="CPAS decisions").count() == 1


@pytest.mark.slow
def test_a_conformance_run_from_the_page_shows_failures_first(page: Any, site: Site) -> None:
    open_view(page, site, "conformance")
    page.get_by_label("Suite", exact=True).select_option("eattest")
    page.get_by_label("Case", exact=True).select_option("ATT-3")
    page.get_by_label("Client").select_option("resend-refused")
    page.get_by_role("button", name="Start run").click()
    page.get_by_role("link", name="Open its report").wait_for(timeout=180_000)
    assert "FAIL  eattest/ATT-3" in page.get_by_label("Progress of the run").inner_text()
    page.get_by_role("link", name="Open its report").click()
    page.wait_for_selector("section.case", timeout=TIMEOUT_MS)
    first = page.locator("section.case").first
    assert first.get_attribute("data-verdict") == "fail"
    assert "sent again" in first.inner_text()
    assert "do not send the attestation again" in first.locator(".todo").inner_text()
    exchanges = first.locator("details.message")
    assert exchanges.count() >= 2
    # The failure names the refused attestation (#5) and the one sent again (#6): each opens.
    links = first.locator("li.failure button")
    assert links.count() == 2
    links.first.click()
    opened = first.locator("details.message[open]")
    assert opened.count() == 1 and "196" in opened.locator("summary").inner_text()
    assert page.evaluate("() => document.activeElement.tagName") == "SUMMARY"
    answers = first.locator("pre[aria-label^='Answer in clear']")
    assert any("196" in (answers.nth(i).text_content() or "") for i in range(answers.count()))
    html = page.get_by_role("link", name="HTML report")
    response = page.request.get(site.url + html.get_attribute("href"))
    assert response.status == 200 and "What to do" in response.text()


CONTROLS_WITHOUT_NAME = """() => [...document.querySelectorAll(
  'input:not([type=hidden]), select, textarea, button, a[href]')]
  .filter(e => e.offsetParent !== null)
  .filter(e => {
    const labelled = (e.labels && e.labels.length) || e.getAttribute('aria-label')
      || e.getAttribute('aria-labelledby');
    const text = (e.textContent || '').trim();
    return !(labelled || ((e.tagName === 'BUTTON' || e.tagName === 'A') && text));
  })
  .map(e => e.outerHTML.slice(0, 120))"""


@pytest.mark.parametrize(
    "view", ["journal", "scenario", "population", "conformance", "exchange/{refused}"]
)
def test_every_control_is_labelled(page: Any, site: Site, view: str) -> None:
    open_view(page, site, view.format(refused=site.refused_id))
    page.wait_for_timeout(300)
    assert page.evaluate(CONTROLS_WITHOUT_NAME) == []
    # The accessibility tree names the regions and the controls too.
    tree = page.locator("body").aria_snapshot()
    assert 'navigation "Sections"' in tree


FOCUSED = """() => {
  const e = document.activeElement;
  if (e.labels && e.labels.length) return e.labels[0].textContent.trim();
  return e.getAttribute('aria-label') || e.textContent.trim();
}"""


def test_the_keyboard_reaches_an_exchange_and_back(page: Any, site: Site) -> None:
    open_view(page, site, "journal")
    # A view opens with its heading focused (screen readers announce it), once it is drawn.
    wait_until(page, "document.activeElement.tagName === 'H2'")
    backwards = []
    for _ in range(5):
        page.keyboard.press("Shift+Tab")
        backwards.append(page.evaluate(FOCUSED))
    assert backwards == ["Conformance", "Population", "Scenario & clock", "Journal",
                         "Skip to content"]  # fmt: skip
    page.locator("#view h2").focus()
    order = []
    for _ in range(40):
        page.keyboard.press("Tab")
        order.append(page.evaluate(FOCUSED))
        if order[-1].startswith("Open exchange"):
            break
    filters = ["Service", "Operation", "Outcome", "Code", "Provider (NIHII)", "Patient (NISS)"]
    assert order[: len(filters)] == filters
    assert order.index("Apply filters") < order.index("Live: show new exchanges as they come")
    assert order[-1].startswith("Open exchange")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=What the insurer answered (in clear)", timeout=TIMEOUT_MS)
    wait_until(page, "document.activeElement.tagName === 'H2'")
    page.go_back()
    page.wait_for_selector("#view tbody tr[data-id]", timeout=TIMEOUT_MS)


def test_an_efact_file_shows_each_error_on_its_zone(page: Any, site: Site) -> None:
    open_view(page, site, f"exchange/{site.efact_id}")
    files = page.get_by_role("region", name="eFact files: records and zones")
    files.wait_for(timeout=TIMEOUT_MS)
    assert "920000" in files.inner_text()
    failing = files.locator("details.record.has-error")
    assert failing.count() >= len(site.injected)
    zones = files.locator("tr.has-error")
    found = {zones.nth(i).locator("td").last.inner_text() for i in range(zones.count())}
    for fault in site.injected:
        # The error is on the row of its zone (zone number 2 digits in the code).
        assert any(fault.code in text for text in found), (fault, found)
        row = files.locator("tr.has-error", has_text=fault.code).first
        assert (
            row.locator("td").first.inner_text().lstrip("0").startswith(str(int(fault.code[2:4])))
        )


def test_the_running_journal_is_judged_and_its_exchanges_open(page: Any, site: Site) -> None:
    open_view(page, site, "conformance")
    page.get_by_label("Suite to judge").select_option("etar")
    page.get_by_label("Case to judge").select_option("TAR-1")
    page.get_by_role("button", name="Evaluate this journal").click()
    page.wait_for_selector("section.case", timeout=60_000)
    assert page.url.endswith("-live")
    case = page.locator("section.case").first
    assert case.get_attribute("data-verdict") == "fail"  # nobody ran TAR-1 here
    assert "entries of this simulator's journal" in page.locator("#view").inner_text()
    links = case.locator("a[href^='#/exchange/']")
    assert links.count() >= 1  # the ETK calls concern no patient: judged with the case
    links.first.evaluate("e => e.closest('details').open = true")
    links.first.click()
    page.wait_for_selector("text=What the insurer answered (in clear)", timeout=TIMEOUT_MS)


TOKEN = "browser-token"


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A server whose settings say it is bound beyond loopback: the token is required."""
    server = start_server(tmp_path_factory.mktemp("exposed"), patients=60, providers=20)
    assert server.sim is not None
    server.sim.settings = replace(server.sim.settings, host="0.0.0.0", admin_token=TOKEN)
    assert etk_call(server.base_url) == 200
    yield server
    server.stop()


def test_bound_beyond_loopback_the_page_takes_the_token_once(
    page: Any, exposed: ServerThread
) -> None:
    page.goto(exposed.base_url + "/")
    assert "No token yet" in page.locator("body").inner_text()
    page.goto(f"{exposed.base_url}{UI}?token={TOKEN}")
    page.wait_for_selector("#view tbody tr[data-id]", timeout=TIMEOUT_MS)
    assert "token" not in page.url  # redirected to the clean address
    assert page.evaluate("() => document.cookie") == ""  # HttpOnly: no script can read it
    before = journal_ids(page)
    caller = threading.Thread(target=etk_call, args=(exposed.base_url,))
    caller.start()
    caller.join()
    wait_until(page, f"document.querySelector('#view tbody tr').dataset.id > {before[0]}")
