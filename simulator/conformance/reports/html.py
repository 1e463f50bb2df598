"""A self-contained HTML report: inline CSS, no script, no external resource, so it opens from
a CI artefact as is. Every case is a visible section (not collapsed by default when it fails):
its verdict, its checks with the failures explained, and every message it exchanged,
pretty-printed (request, business content, answer) so two runs can be diffed."""

from __future__ import annotations

from html import escape
from pathlib import Path

from simulator.conformance.results import FAIL, PASS, CaseResult, Message, RunResult

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em} table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
.badge.pass{color:#116611}.badge.fail{color:#aa1111}.badge.error,p.error{color:#aa6600}
.badge{font-weight:bold;text-transform:uppercase}
section.case{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:1em 0}
section.case.fail{border-color:#aa1111}section.case.error{border-color:#aa6600}
pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:.8em;max-height:30em}
ul.checks li{margin:.2em 0} .failure{margin-left:1em;color:#aa1111;font-size:.9em}
summary{cursor:pointer}
"""


def to_html(result: RunResult) -> str:
    verdict = PASS if result.passed else FAIL
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>mycarenet-sim conformance report</title>",
        f"<style>{CSS}</style></head><body>",
        f'<h1>Conformance report: <span class="badge {verdict}">{verdict}</span></h1>',
        f"<p>Suites: {escape(', '.join(result.suites))}. Command: "
        f"<code>{escape(' '.join(result.command))}</code>. "
        f"{result.count('pass')} passed, {result.count('fail')} failed, "
        f"{result.count('error')} errors in {result.duration_s:.1f} s.</p>",
        _summary(result.cases),
    ]
    parts.extend(_case(case) for case in result.cases)
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary(cases: tuple[CaseResult, ...]) -> str:
    rows = "".join(
        f'<tr><td><a href="#{_anchor(c)}">{escape(c.suite)}</a></td>'
        f'<td><a href="#{_anchor(c)}">{escape(c.case)}</a></td><td>{escape(c.title)}</td>'
        f'<td class="badge {c.verdict}">{c.verdict}</td><td>{c.duration_s:.2f} s</td></tr>'
        for c in cases
    )
    return (
        "<table><thead><tr><th>suite</th><th>case</th><th>title</th><th>verdict</th>"
        f"<th>time</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _anchor(case: CaseResult) -> str:
    return escape(f"{case.suite}-{case.case}")


def _case(case: CaseResult) -> str:
    checks = []
    for check in case.checks:
        state = PASS if check.passed else FAIL
        failures = "".join(
            f'<div class="failure">{escape(f.explain())}</div>' for f in check.failures
        )
        checks.append(
            f'<li><span class="badge {state}">{state}</span> {escape(check.check.says)}'
            f"{failures}</li>"
        )
    error = f'<p class="error">Error: {escape(case.error)}</p>' if case.error else ""
    messages = "".join(_message(m) for m in case.messages) or "<p>No message was received.</p>"
    output = (
        f"<details><summary>Output of the command (exit code {case.exit_code})</summary>"
        f"<pre>{escape(case.output)}</pre></details>"
        if case.output
        else ""
    )
    return (
        f'<section class="case {case.verdict}" id="{_anchor(case)}">'
        f'<h2><span class="badge {case.verdict}">{case.verdict}</span> '
        f"{escape(case.suite)} / {escape(case.case)}: {escape(case.title)}</h2>"
        f"<p>Patient {escape(case.patient_ssin)}, provider {escape(case.provider_nihii)}, "
        f"simulator clock {escape(case.at)}, {case.duration_s:.2f} s.</p>{error}"
        f'<ul class="checks">{"".join(checks)}</ul>'
        f"<h3>Messages ({len(case.messages)})</h3>{messages}{output}</section>"
    )


def _message(message: Message) -> str:
    blocks = [("request", message.request)]
    if message.content:
        blocks.append(("business content", message.content))
    blocks.append(("answer", message.response))
    inner = "".join(
        f"<h4>{escape(name)}</h4><pre>{escape(text)}</pre>" for name, text in blocks if text
    )
    return (
        f"<details><summary>{escape(message.label)} (HTTP {message.http_status}, security "
        f"{escape(message.security or '-')}, {escape(message.at)})</summary>{inner}</details>"
    )


def write_html(result: RunResult, path: Path) -> None:
    path.write_text(to_html(result), encoding="utf-8")
