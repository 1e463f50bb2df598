"""Expectations checked against what the simulator received: pure functions over journal
entries. Every failure says which entry, where in it (XPath or record/zone), what was expected
and what came, so a vendor can act on it without reading the simulator's code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from simulator.clock import BRUSSELS
from simulator.conformance.journal_view import (
    TRANSPORT_FAULTS,
    EntryView,
    Unsealer,
    evaluate_xpath,
)
from simulator.conformance.model import (
    AtMostPerDay,
    Before,
    Check,
    Content,
    EfactZone,
    FollowedBy,
    NoneAfter,
    Requests,
    Select,
    ValidRequests,
)
from simulator.store.base import JournalEntry


@dataclass(frozen=True)
class Failure:
    message: str
    entry_id: int | None = None
    where: str | None = None  # XPath, record/zone or the field of the journal entry
    expected: str | None = None
    got: str | None = None

    def explain(self) -> str:
        parts = [self.message]
        if self.entry_id is not None:
            parts.append(f"[journal #{self.entry_id}]")
        if self.where:
            parts.append(f"at {self.where}")
        if self.expected is not None:
            parts.append(f"expected {self.expected}")
        if self.got is not None:
            parts.append(f"got {self.got}")
        return "; ".join(parts)


@dataclass(frozen=True)
class CheckResult:
    check: Check
    failures: tuple[Failure, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class CaseFacts:
    """Who the case is about, as resolved in the population."""

    patient_ssin: str
    provider_nihii: str
    other_gp: str = ""  # a GP who is neither the provider nor the patient's DMG holder

    def fill(self, template: str) -> str:
        """`{patient}`, `{provider}` and `{other_gp}` in an expected value: suites never
        hard-code a NISS or a NIHII."""
        return (
            template.replace("{patient}", self.patient_ssin)
            .replace("{provider}", self.provider_nihii)
            .replace("{other_gp}", self.other_gp)
        )


def evaluate(
    checks: Sequence[Check],
    entries: Sequence[JournalEntry],
    facts: CaseFacts,
    *,
    unsealer: Unsealer | None = None,
) -> list[CheckResult]:
    views = [EntryView(e, unsealer) for e in sorted(entries, key=lambda e: e.id or 0)]
    return [CheckResult(c, tuple(check_one(c, views, facts))) for c in checks]


def check_one(check: Check, views: Sequence[EntryView], facts: CaseFacts) -> list[Failure]:
    e = check.expectation
    if isinstance(e, ValidRequests):
        return _valid_requests(views)
    if isinstance(e, Requests):
        return _requests(e, views, facts)
    if isinstance(e, Before):
        return _before(e, views, facts)
    if isinstance(e, FollowedBy):
        return _followed_by(e, views, facts)
    if isinstance(e, NoneAfter):
        return _none_after(e, views, facts)
    if isinstance(e, Content):
        return _content(e, views, facts)
    if isinstance(e, EfactZone):
        return _efact_zone(e, views)
    return _at_most_per_day(e, views, facts)


# -- selection ----------------------------------------------------------------------------------


def matches(select: Select, view: EntryView, facts: CaseFacts) -> bool:
    entry = view.entry
    if select.service is not None and entry.service != select.service:
        return False
    if select.operation is not None and entry.operation != select.operation:
        return False
    if select.patient == "case" and entry.patient_ssin != facts.patient_ssin:
        return False
    if select.patient == "other" and entry.patient_ssin in (None, facts.patient_ssin):
        return False
    if select.outcome is not None and entry.outcome != select.outcome:
        return False
    if select.codes and entry.code not in select.codes:
        return False
    if select.response_xpath is not None:
        response = view.response
        return response is not None and bool(evaluate_xpath(response, select.response_xpath))
    return True


def _selected(select: Select, views: Iterable[EntryView], facts: CaseFacts) -> list[EntryView]:
    return [v for v in views if matches(select, v, facts)]


def _seen(views: Sequence[EntryView]) -> str:
    if not views:
        return "no request at all"
    shown = ", ".join(
        f"#{v.id} {v.entry.service}.{v.entry.operation} {v.entry.outcome}"
        + (f" {v.entry.code}" if v.entry.code else "")
        for v in views[:12]
    )
    more = f" and {len(views) - 12} more" if len(views) > 12 else ""
    return f"received: {shown}{more}"


# -- kinds --------------------------------------------------------------------------------------


def _valid_requests(views: Sequence[EntryView]) -> list[Failure]:
    failures: list[Failure] = []
    for view in views:
        entry = view.entry
        verdict = entry.security.get("verdict")
        if entry.outcome == "fault" and (
            entry.code in TRANSPORT_FAULTS or (entry.code or "").startswith("SOA-01")
        ):
            failures.append(
                Failure(
                    f"{entry.service}.{entry.operation} was refused before the business rules: "
                    f"{view.fault_reason or entry.code}",
                    view.id,
                    where="request",
                    expected="a well-formed, schema-valid, correctly signed request",
                    got=f"fault {entry.code}",
                )
            )
        elif verdict == "rejected":
            failures.append(
                Failure(
                    f"{entry.service}.{entry.operation}: the WS-Security check failed "
                    f"({entry.security.get('reason', '')})",
                    view.id,
                    where="soap:Header/wsse:Security",
                    expected="security verdict valid",
                    got="rejected",
                )
            )
    return failures


def _requests(e: Requests, views: Sequence[EntryView], facts: CaseFacts) -> list[Failure]:
    found = _selected(e.select, views, facts)
    count = len(found)
    if count >= e.minimum and (e.maximum is None or count <= e.maximum):
        return []
    wanted = f"at least {e.minimum}" if e.maximum is None else f"{e.minimum}..{e.maximum}"
    if e.maximum == e.minimum:
        wanted = str(e.minimum)
    extra = found[e.maximum] if e.maximum is not None and count > e.maximum else None
    return [
        Failure(
            _seen(views),
            extra.id if extra else None,
            expected=f"{wanted} such request(s)",
            got=str(count),
        )
    ]


def _same_patient(a: EntryView, b: EntryView) -> bool:
    return a.entry.patient_ssin is None or a.entry.patient_ssin == b.entry.patient_ssin


def _before(e: Before, views: Sequence[EntryView], facts: CaseFacts) -> list[Failure]:
    failures: list[Failure] = []
    firsts = _selected(e.first, views, facts)
    for then in _selected(e.then, views, facts):
        if not any(f.id < then.id and _same_patient(f, then) for f in firsts):
            failures.append(
                Failure(
                    f"{then.entry.service}.{then.entry.operation} was sent without a prior "
                    f"{e.first.describe()}",
                    then.id,
                    expected=f"{e.first.describe()} first",
                    got=_seen([v for v in views if v.id <= then.id]),
                )
            )
    return failures


def _followed_by(e: FollowedBy, views: Sequence[EntryView], facts: CaseFacts) -> list[Failure]:
    failures: list[Failure] = []
    thens = _selected(e.then, views, facts)
    for first in _selected(e.first, views, facts):
        if not any(t.id > first.id for t in thens):
            failures.append(
                Failure(
                    f"{first.entry.service}.{first.entry.operation} was never followed by "
                    f"{e.then.describe()}",
                    first.id,
                    expected=f"{e.then.describe()} afterwards",
                    got=_seen([v for v in views if v.id > first.id]),
                )
            )
    return failures


def _none_after(e: NoneAfter, views: Sequence[EntryView], facts: CaseFacts) -> list[Failure]:
    triggers = _selected(e.trigger, views, facts)
    if not triggers:
        return []
    first = triggers[0]
    return [
        Failure(
            f"{then.entry.service}.{then.entry.operation} sent again after "
            f"#{first.id} was answered {first.entry.outcome} {first.entry.code or ''}".rstrip(),
            then.id,
            expected=f"no {e.then.describe()} after that answer",
            got=f"#{then.id} at {then.entry.at}",
        )
        for then in _selected(e.then, views, facts)
        if then.id > first.id
    ]


def _content(e: Content, views: Sequence[EntryView], facts: CaseFacts) -> list[Failure]:
    found = _selected(e.select, views, facts)
    if not found:
        return [
            Failure(
                f"no {e.select.describe()} to look into",
                where=e.xpath,
                expected="such a request",
                got=_seen(views),
            )
        ]
    failures: list[Failure] = []
    for view in found:
        problem = _content_problem(e, view, facts)
        if problem is None and not e.all_entries:
            return []
        if problem is not None:
            failures.append(problem)
    return failures


def _content_problem(e: Content, view: EntryView, facts: CaseFacts) -> Failure | None:
    root = view.request if e.scope == "envelope" else view.content
    part = "request" if e.scope == "envelope" else "content"
    if root is None:
        return Failure(view.problem(part) or f"the {part} cannot be read", view.id, e.xpath)
    values = evaluate_xpath(root, e.xpath)
    if not e.exists:
        if values:
            return Failure("found what must be absent", view.id, e.xpath, "nothing", values[0])
        return None
    expected = facts.fill(e.equals) if e.equals is not None else None
    if not values:
        return Failure("nothing found", view.id, e.xpath, expected or "a node", "nothing")
    if expected is not None and expected not in values:
        return Failure("another value", view.id, e.xpath, repr(expected), repr(values[0]))
    return None


def _efact_posts(views: Sequence[EntryView]) -> list[EntryView]:
    return [
        v
        for v in views
        if v.entry.service == "genasync"
        and v.entry.operation == "post"
        and (v.message_name or "").endswith("HCPFAC")
    ]


def _efact_zone(e: EfactZone, views: Sequence[EntryView]) -> list[Failure]:
    from simulator.conformance.efact_view import zone_values

    posts = _efact_posts(views)
    where = f"record {e.record} zone {e.zone}"
    if not posts:
        return [Failure("no eFact file (HCPFAC) was posted", where=where, got=_seen(views))]
    failures: list[Failure] = []
    seen: dict[str, int] = {}
    for view in posts:
        content = view.business_content
        if content is None:
            failures.append(Failure(view.problem("content"), view.id, where))
            continue
        values = zone_values(content, e.record, e.zone)
        if not values:
            failures.append(Failure(f"the file has no record {e.record}", view.id, where))
            continue
        for value in values:
            if e.equals is not None and value != e.equals:
                failures.append(Failure("wrong zone value", view.id, where, e.equals, value))
                break
        if e.within_months is not None:
            failures += _too_old(e.within_months, values, view, where)
        if e.differs_between_posts:
            value = values[0]
            if value in seen:
                failures.append(
                    Failure(
                        f"the same value as the file posted in #{seen[value]}",
                        view.id,
                        where,
                        "a new value in every file",
                        value,
                    )
                )
            seen[value] = view.id
    return failures


def _too_old(months: int, values: Sequence[str], view: EntryView, where: str) -> list[Failure]:
    """The first date of `values` older than `months` before the post's (Brussels) day."""
    from simulator.efact.checks import months_before

    posted = date.fromisoformat(_local_day(view.entry.at))
    oldest = months_before(posted, months)
    for value in values:
        try:
            day = datetime.strptime(value, "%Y%m%d").date()
        except ValueError:
            return [Failure("not a date (YYYYMMDD)", view.id, where, "a date", repr(value))]
        if day < oldest:
            return [
                Failure(
                    f"a service older than {months} months on the day it was billed",
                    view.id,
                    where,
                    f"{oldest:%Y%m%d} or later",
                    value,
                )
            ]
    return []


def _at_most_per_day(
    e: AtMostPerDay, views: Sequence[EntryView], facts: CaseFacts
) -> list[Failure]:
    by_day: dict[str, list[EntryView]] = {}
    for view in _selected(e.select, views, facts):
        if (
            e.select.service == "genasync"
            and e.select.operation == "post"
            and not (view.message_name or "").endswith("HCPFAC")
        ):
            continue  # only invoice files count, not other GenAsync posts
        by_day.setdefault(_local_day(view.entry.at), []).append(view)
    return [
        Failure(
            f"{len(day_views)} {e.select.describe()} on {day}",
            day_views[e.maximum].id,
            where=f"requests of {day} (Brussels)",
            expected=f"at most {e.maximum} a day",
            got=", ".join(f"#{v.id}" for v in day_views),
        )
        for day, day_views in by_day.items()
        if len(day_views) > e.maximum
    ]


def _local_day(at: str) -> str:
    """The Belgian calendar day of a journaled instant: the file rules are per local day."""
    try:
        return datetime.fromisoformat(at).astimezone(BRUSSELS).date().isoformat()
    except ValueError:
        return at[:10]
