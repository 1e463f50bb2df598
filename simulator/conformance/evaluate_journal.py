"""`conformance evaluate`: judge cases from the journal of a simulator that ran on its own
(`mycarenet-sim serve`), read over its admin API or from its data dir.

Without the harness there is no per-case slice of the journal: a case is judged on the entries
about its patient and provider (and the calls that concern no patient, like the STS), within
--since/--until. Sealed content can only be read with the data dir (the insurer's key).
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

from simulator.conformance.journal_view import Unsealer
from simulator.conformance.judging import judge_case
from simulator.conformance.resolve import ResolvedCase
from simulator.conformance.results import CaseResult
from simulator.conformance.unsealing import insurer_unsealer
from simulator.security.pki import TestPki
from simulator.store.base import JournalEntry, JournalQuery
from simulator.store.sqlite import SqliteStore

PAGE = 1000
HTTP_TIMEOUT_S = 30


def read_journal(
    url: str | None, data_dir: Path | None, since: str | None, until: str | None
) -> tuple[list[JournalEntry], Unsealer | None]:
    if data_dir is not None:
        return _from_data_dir(data_dir, since, until)
    if url is None:
        raise ValueError("a URL or a data dir is needed")
    return _from_url(url, since, until), None


def _from_data_dir(
    data_dir: Path, since: str | None, until: str | None
) -> tuple[list[JournalEntry], Unsealer | None]:
    database = data_dir / "simulator.sqlite3"
    if not database.exists():
        raise FileNotFoundError(f"{database} does not exist: is {data_dir} a simulator data dir?")
    store = SqliteStore(database)
    try:
        entries = store.journal(JournalQuery(since=since, until=until, limit=10**9))
    finally:
        store.close()
    unsealer = None
    if (data_dir / "pki").is_dir():
        unsealer = insurer_unsealer(TestPki.load_or_create(data_dir).insurer_encryption)
    return entries, unsealer


def _from_url(url: str, since: str | None, until: str | None) -> list[JournalEntry]:
    entries: list[JournalEntry] = []
    offset = 0
    while True:
        params = {"limit": str(PAGE), "offset": str(offset)}
        if since:
            params["since"] = since
        if until:
            params["until"] = until
        address = f"{url.rstrip('/')}/__admin/journal?{urllib.parse.urlencode(params)}"
        if not address.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        with urllib.request.urlopen(address, timeout=HTTP_TIMEOUT_S) as answer:  # noqa: S310
            page = json.loads(answer.read())["entries"]
        entries.extend(JournalEntry(**entry) for entry in page)
        if len(page) < PAGE:
            return entries
        offset += PAGE


def concerning(resolved: ResolvedCase, entries: list[JournalEntry]) -> list[JournalEntry]:
    """The entries about this case's patient and provider, or about no patient at all."""
    return [
        e
        for e in entries
        if e.patient_ssin in (None, resolved.patient_ssin)
        and e.provider_nihii in (None, resolved.provider.nihii)
    ]


def evaluate_cases(
    resolved: ResolvedCase, entries: list[JournalEntry], unsealer: Unsealer | None
) -> CaseResult:
    started = time.perf_counter()
    return judge_case(resolved, concerning(resolved, entries), unsealer, started)
