"""The insurer's ledger: every service it accepted, by patient, across files and channels.

eAttest records each accepted attestation's services and removes them when the attestation is
cancelled; eFact and MediPrima record the services of the invoices they accept. The rules that
read it are pure (simulator/domain/ledger_rules.py); this module only keeps the services.

`Ledger` is the interface. `RecordsLedger` keeps the services as `Records` of kind `ledger`
(so they live in the store's file, survive a restart and are forgotten by an admin reset with
every other record); a PostgreSQL store can implement `Ledger` on its own table, as long as
`admit` judges and records in one step per patient.

Keys: `ledger` `<niss>:<insurer>:<yyyy-mm-dd>:<source>:<line>` -> the service (key order is
patient, insurer, day: `find` is one prefix scan); `ledger-source` `<source>` -> its keys (what
`remove` deletes); `ledger-lock` `<niss>` -> held while `admit` judges and records, so that
two workers admitting the same patient's services at once judge one after the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, Protocol

from simulator.domain.ledger_rules import (
    Channel,
    Finding,
    HistoryScope,
    LedgerService,
    history_scope,
    judge_all,
)
from simulator.store.records import Records

SERVICES = "ledger"
SOURCES = "ledger-source"
LOCKS = "ledger-lock"
# A lock older than this was left by a worker that died mid-admit: it is taken over.
LOCK_STALE_S = 10.0
_LOCK_TRIES = 50
_LOCK_PAUSE_S = 0.002
_ALL = 1_000_000
_PREFIXES_A_READ = 500

Judge = Callable[[Sequence[LedgerService], Sequence[LedgerService]], Sequence[Finding]]


class LedgerBusy(RuntimeError):
    """Another worker kept the patient's lock for the whole wait."""


class Ledger(Protocol):
    def record(self, services: Sequence[LedgerService]) -> None:
        """Remember `services` (again: a service with the same source and line is replaced)."""

    def admit(
        self, services: Sequence[LedgerService], judge: Judge = judge_all
    ) -> tuple[Finding, ...]:
        """Judge `services` against the history of their patients and record them only when
        `judge` finds nothing; atomic per patient. Returns the findings (empty: recorded)."""

    def find(
        self,
        patient: str,
        *,
        insurer: str | None = None,
        code: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[LedgerService]:
        """A patient's services (at one insurer, of one code, days in [since, until]), by day."""

    def history(
        self, insurer: str, scopes: Mapping[str, HistoryScope]
    ) -> list[LedgerService]:
        """The services at one insurer of each patient of `scopes` within that patient's scope
        (`ledger_rules.history_scope`): what the rules read, not the whole history; by
        patient, then day."""

    def remove(self, source: str) -> int:
        """Forget every service of `source` (a cancelled attestation); how many were removed."""


class RecordsLedger:
    """`Ledger` over the store's `Records`."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def record(self, services: Sequence[LedgerService]) -> None:
        by_source: dict[str, list[str]] = {}
        for service in services:
            by_source.setdefault(service.source, []).append(_key(service))
        # The index first: a crash in between leaves an index entry pointing at nothing,
        # never a service that its cancellation could not find.
        held = self.records.get_many(SOURCES, list(by_source))
        for source, keys in by_source.items():
            known = list(held[source]["keys"]) if source in held else []
            self.records.put(SOURCES, source, {"keys": sorted({*known, *keys})})
        for service in services:
            self.records.put(SERVICES, _key(service), _document(service))

    def admit(
        self, services: Sequence[LedgerService], judge: Judge = judge_all
    ) -> tuple[Finding, ...]:
        patients = sorted({service.patient for service in services})
        held: list[str] = []
        try:
            for patient in patients:  # in order: two admits never wait on each other
                self._lock(patient)
                held.append(patient)
            scope = history_scope(services)
            insurers = sorted({service.insurer for service in services})
            scopes = dict.fromkeys(patients, scope)
            history = [old for insurer in insurers for old in self.history(insurer, scopes)]
            findings = tuple(judge(history, services))
            if not findings:
                self.record(services)
            return findings
        finally:
            for patient in held:
                self.records.delete(LOCKS, patient)

    def find(
        self,
        patient: str,
        *,
        insurer: str | None = None,
        code: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[LedgerService]:
        prefix = f"{patient}:{insurer}:" if insurer else f"{patient}:"
        found = (_service(doc) for _, doc in self.records.find(SERVICES, prefix=prefix, limit=_ALL))
        wanted = _six_digits(code) if code is not None else None
        return [
            service
            for service in found
            if (wanted is None or service.code == wanted)
            and (since is None or service.day >= since)
            and (until is None or service.day <= until)
        ]

    def history(
        self, insurer: str, scopes: Mapping[str, HistoryScope]
    ) -> list[LedgerService]:
        # The key is patient:insurer:day: a year or a day of a patient is one key prefix, and
        # a few hundred prefixes are one read (a round trip each would dominate on PostgreSQL).
        prefixes = sorted(
            prefix
            for patient, scope in scopes.items()
            for prefix in _prefixes(f"{patient}:{insurer}:", scope)
        )
        found: list[LedgerService] = []
        for start in range(0, len(prefixes), _PREFIXES_A_READ):
            rows = self.records.find_any(
                SERVICES, prefixes[start : start + _PREFIXES_A_READ], limit=_ALL
            )
            found += (_service(doc) for _, doc in rows)
        return found

    def remove(self, source: str) -> int:
        held = self.records.get(SOURCES, source)
        if held is None:
            return 0
        removed = sum(1 for key in held["keys"] if self.records.delete(SERVICES, key))
        self.records.delete(SOURCES, source)
        return removed

    def _lock(self, patient: str) -> None:
        for _ in range(_LOCK_TRIES):
            if self.records.insert(LOCKS, patient, {"at": time.time()}):
                return
            held = self.records.get(LOCKS, patient)
            if held is not None and time.time() - float(held.get("at", 0)) > LOCK_STALE_S:
                self.records.delete(LOCKS, patient)  # its worker died: take it over
                continue
            time.sleep(_LOCK_PAUSE_S)  # another worker is between judge and record: ~1 ms
        raise LedgerBusy(f"the ledger of patient {patient} stayed locked")


def _prefixes(base: str, scope: HistoryScope) -> list[str]:
    if scope.whole:
        return [base]
    prefixes = [f"{base}{year:04d}-" for year in scope.years]
    # A day within a year already read would come twice: `history_scope` leaves none.
    return prefixes + [f"{base}{day.isoformat()}:" for day in scope.days]


def _six_digits(code: str) -> str:
    return code[1:] if len(code) == 7 and code.startswith("0") else code


def _key(service: LedgerService) -> str:
    return (
        f"{service.patient}:{service.insurer}:{service.day.isoformat()}:"
        f"{service.source}:{service.line:04d}"
    )


def _document(service: LedgerService) -> dict[str, Any]:
    return {
        "insurer": service.insurer,
        "patient": service.patient,
        "code": service.code,
        "day": service.day.isoformat(),
        "provider": service.provider,
        "channel": service.channel.value,
        "source": service.source,
        "line": service.line,
        "quantity": service.quantity,
        "tooth": service.tooth,
        "distinct": service.distinct,
    }


def _service(doc: dict[str, Any]) -> LedgerService:
    return LedgerService(
        insurer=doc["insurer"],
        patient=doc["patient"],
        code=doc["code"],
        day=date.fromisoformat(doc["day"]),
        provider=doc["provider"],
        channel=Channel(doc["channel"]),
        source=doc["source"],
        line=int(doc["line"]),
        quantity=int(doc["quantity"]),
        tooth=doc.get("tooth"),
        distinct=bool(doc.get("distinct", False)),
    )
