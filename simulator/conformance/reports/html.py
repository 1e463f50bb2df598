"""A self-contained HTML report: inline CSS, no script, no external resource, so it opens from
a CI artefact as is.

Failed cases come first, each with what to do (the case's instructions and every check the
journal did not show), every failure linked to the exchange it is about, and those exchanges
embedded: the answer in clear (as the simulator wrote it before sealing it for the client),
the request's business content, and the SOAP bodies without their security headers. Passed
cases are one line each: a report weighs what its failures need, not what every message
weighs (all messages, whole, are in report.json). A filter by verdict works without script
(radio buttons and CSS :has()).
"""

from __future__ import annotations

import re
from functools import cache
from html import escape
from pathlib import Path

from lxml import etree

from simulator.conformance.evaluator import CheckResult
from simulator.conformance.results import FAIL, PASS, CaseResult, Message, RunResult
from simulator.soap.namespaces import SOAP11
from simulator.soap.parser import XmlRejected, parse_xml

_REFERENCE = re.compile(r"#([0-9]+)")  # "after #5 was answered", "[journal #6]"
MAX_BLOCK = 20_000  # characters of one embedded block; the rest is in report.json
VERDICT_ORDER = {"error": 0, FAIL: 1, PASS: 2}

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#1d2330;max-width:75em}
h1{font-size:1.5em} h2{font-size:1.15em;margin:.2em 0} h3{font-size:1em;margin:.8em 0 .3em}
table{border-collapse:collapse;margin:1em 0;width:100%}
td,th{border-bottom:1px solid #d5d9e0;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f5f7fa}
.badge{font-weight:bold;text-transform:uppercase}
.pass{color:#146c2e}.fail{color:#b01c1c}.error{color:#8a5300}
section.case{border:1px solid #d5d9e0;border-radius:6px;padding:.5em 1em;margin:1em 0}
section.case.fail{border-color:#b01c1c}section.case.error{border-color:#8a5300}
section.case.pass{padding:.2em 1em;margin:.3em 0}
pre{background:#f5f7fa;padding:.5em;overflow-x:auto;font-size:.8em;max-height:30em}
ul.checks li{margin:.2em 0}.failure{margin-left:1em;color:#b01c1c;font-size:.9em}
.todo{background:#fff7e0;border:1px solid #e8cf8a;border-radius:6px;padding:.3em 1em}
summary{cursor:pointer} .muted{color:#5b6475}
.filter{display:flex;gap:1em;align-items:center;margin:1em 0}
:focus-visible{outline:3px solid #1a5fd0;outline-offset:2px}
body:has(#show-failed:checked) section.case.pass{display:none}
body:has(#show-failed:checked) tr.pass{display:none}
body:has(#show-passed:checked) section.case:not(.pass){display:none}
body:has(#show-passed:checked) tr:not(.pass):not(.head){display:none}
"""


def to_html(result: RunResult) -> str:
    verdict = PASS if result.passed else FAIL
    cases = sorted(result.cases, key=lambda c: VERDICT_ORDER.get(c.verdict, 0))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>mycarenet-sim conformance report</title>",
        f"<style>{CSS}</style></head><body>",
        f'<h1>Conformance report: <span class="badge {verdict}">{verdict}</span></h1>',
        f"<p>Suites: {escape(', '.join(result.suites))}. Command: "
        f"<code>{escape(' '.join(result.command))}</code>. "
        f"{result.count('pass')} passed, {result.count('fail')} failed, "
        f"{result.count('error')} errors in {result.duration_s:.1f} s. Failures come first; "
        "every exchange of every case, whole, is in report.json.</p>",
        _filter(result),
        _summary(cases),
    ]
    parts.extend(_case(case) for case in cases)
    parts.append("</body></html>")
    return "\n".join(parts)


def _filter(result: RunResult) -> str:
    failing = len(result.cases) - result.count(PASS)
    choices = (
        ("show-all", "every case", True),
        ("show-failed", f"failed and errors ({failing})", False),
        ("show-passed", f"passed ({result.count(PASS)})", False),
    )
    radios = "".join(
        f'<label><input type="radio" name="show" id="{name}"{" checked" if on else ""}> '
        f"{escape(text)}</label>"
        for name, text, on in choices
    )
    return f'<fieldset class="filter"><legend>Show</legend>{radios}</fieldset>'


def _summary(cases: list[CaseResult]) -> str:
    rows = "".join(
        f'<tr class="{c.verdict}"><td><a href="#{_anchor(c)}">{escape(c.suite)}</a></td>'
        f'<td><a href="#{_anchor(c)}">{escape(c.case)}</a></td><td>{escape(c.title)}</td>'
        f'<td class="badge {c.verdict}">{c.verdict}</td><td>{c.duration_s:.2f} s</td></tr>'
        for c in cases
    )
    return (
        '<table><thead><tr class="head"><th>suite</th><th>case</th><th>title</th>'
        f"<th>verdict</th><th>time</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _anchor(case: CaseResult) -> str:
    return escape(f"{case.suite}-{case.case}")


def _message_anchor(case: CaseResult, entry_id: int) -> str:
    return f"{_anchor(case)}-journal-{entry_id}"


def _case(case: CaseResult) -> str:
    head = (
        f'<section class="case {case.verdict}" id="{_anchor(case)}">'
        f'<h2><span class="badge {case.verdict}">{case.verdict}</span> '
        f"{escape(case.suite)} / {escape(case.case)}: {escape(case.title)}</h2>"
    )
    if case.verdict == PASS:
        return (
            f'{head}<p class="muted">{len(case.checks)} checks held on '
            f"{len(case.messages)} exchanges, {case.duration_s:.2f} s.</p></section>"
        )
    error = f'<p class="error">Error: {escape(case.error)}</p>' if case.error else ""
    checks = "".join(_check(case, check) for check in case.checks)
    shown = _messages_needed(case)
    messages = "".join(_message(case, m) for m in shown) or "<p>No exchange was received.</p>"
    output = (
        f"<details><summary>Output of the command (exit code {case.exit_code})</summary>"
        f"<pre>{escape(_cut(case.output))}</pre></details>"
        if case.output
        else ""
    )
    return (
        f"{head}<p>Patient {escape(case.patient_ssin)}, provider {escape(case.provider_nihii)}, "
        f"simulator clock {escape(case.at)}, {case.duration_s:.2f} s.</p>{error}"
        f"{_what_to_do(case)}"
        f'<h3>Checks</h3><ul class="checks">{checks}</ul>'
        f"<h3>Exchanges ({len(shown)} of {len(case.messages)}: those the failures name, "
        f"else all but the STS)</h3>{messages}{output}</section>"
    )


def _check(case: CaseResult, check: CheckResult) -> str:
    state = PASS if check.passed else FAIL
    failures = "".join(
        f'<div class="failure">{escape(f.explain())} '
        + " ".join(
            f'<a href="#{_message_anchor(case, number)}">see journal #{number}</a>'
            for number in _named(f.explain(), case)
        )
        + "</div>"
        for f in check.failures
    )
    return (
        f'<li><span class="badge {state}">{state}</span> {escape(check.check.says)}{failures}</li>'
    )


def _what_to_do(case: CaseResult) -> str:
    """The case's instructions, then what the journal must show and did not."""
    steps = _instructions(case.suite, case.case)
    missing = [c.check.says for c in case.checks if not c.passed]
    items = "".join(f"<li>Make the journal show: {escape(says)}</li>" for says in missing)
    if case.error:
        items += (
            "<li>The case did not run to the end: fix what the error says (the command's "
            "output is below), then run the case again.</li>"
        )
    instructions = f"<pre>{escape(steps)}</pre>" if steps else ""
    return (
        f'<div class="todo"><h3>What to do</h3>{instructions}<ul>{items}</ul>'
        f"<p>Run this case alone: <code>mycarenet-sim conformance run --suite "
        f"{escape(case.suite)} --case {escape(case.case)} -- YOUR-COMMAND</code>; "
        f"<code>mycarenet-sim conformance show {escape(case.case)}</code> prints it.</p></div>"
    )


@cache
def _instructions(suite: str, case_id: str) -> str:
    from simulator.conformance.loader import SuiteError
    from simulator.conformance.suites import load_suite_named

    try:
        found = load_suite_named(suite)
        return found.case(case_id).instructions.strip()
    except (KeyError, SuiteError, OSError):
        return ""


def _messages_needed(case: CaseResult) -> list[Message]:
    """The exchanges the failures name; without such a reference, all but the STS calls."""
    named = {n for c in case.checks for f in c.failures for n in _named(f.explain(), case)}
    if named:
        return [m for m in case.messages if m.entry_id in named]
    return [m for m in case.messages if m.service != "sts"]


def _named(explanation: str, case: CaseResult) -> list[int]:
    """The journal ids an explanation names that are exchanges of the case, in order."""
    known = {m.entry_id for m in case.messages}
    found = (int(number) for number in _REFERENCE.findall(explanation))
    return list(dict.fromkeys(number for number in found if number in known))


def _message(case: CaseResult, message: Message) -> str:
    blocks = [
        ("answer in clear (before it was sealed for the client)", message.answer_content),
        ("request business content (unsealed)", message.content),
        ("answer SOAP body", _soap_body(message.response)),
        ("request SOAP body", _soap_body(message.request)),
    ]
    inner = "".join(
        f"<h4>{escape(name)}</h4><pre>{escape(_cut(text))}</pre>" for name, text in blocks if text
    )
    return (
        f'<details open id="{_message_anchor(case, message.entry_id)}"><summary>'
        f"{escape(message.label)} (HTTP {message.http_status}, security "
        f"{escape(message.security or '-')}, {escape(message.at)})</summary>{inner}</details>"
    )


def _soap_body(envelope: str) -> str:
    """The Body of an envelope, indented (the security header is signatures and tokens)."""
    if not envelope.strip():
        return ""
    try:
        root = parse_xml(envelope.encode("utf-8"))
    except XmlRejected:
        return envelope
    body = root.find(f"{{{SOAP11}}}Body")
    if body is None:
        return envelope
    etree.indent(body, space="  ")
    return etree.tostring(body, encoding="unicode", with_tail=False)


def _cut(text: str) -> str:
    if len(text) <= MAX_BLOCK:
        return text
    return text[:MAX_BLOCK] + f"\n… ({len(text) - MAX_BLOCK} more characters in report.json)"


def write_html(result: RunResult, path: Path) -> None:
    path.write_text(to_html(result), encoding="utf-8")
