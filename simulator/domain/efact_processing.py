"""What the insurer decides about a 920000 once the record checks ran (domain-rules 6.1-6.5).

Pure: the caller passes the file's record types, the checker's rejections, the day it was
received, what the insurer already received from the same third party and whether it knows
that third party. Out come the file-level rejections (100721, 100723, 100724, 101420), the
findings against the patient's history (`billed_services`, `ledger_findings`: 502255, 500444,
500447, 502258, 500415 by `domain.ledger_rules`), a rejection a scenario forces (`forced`), the
cascades (a supplement falls with its main service: 500119; a 51/52 with its 50: 510119/520119),
the verdict (920098 accepted, or 920099 rejected with type 01 blocking / 02 too many errors and
the error percentage), the services the insurer then keeps in its ledger (`paid_services`) and
the 920900 settlement totals. No XML, HTTP, store or clock here. docs/rules.md "eFact".
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from simulator.domain import ledger_rules, nomenclature
from simulator.domain.ledger_rules import Channel, LedgerService
from simulator.efact.errors import Rejection, letter_of, rejection
from simulator.efact.parser import Record, ascii_digits

ACCEPTED = "920098"  # file accepted, possibly with rejected records
REJECTED = "920099"  # whole file rejected
BLOCKING = "01"  # zone 311: blocking errors
TOO_MANY = "02"  # zone 311: more than the allowed share of records in error
EFACT_CONTENT = "040"  # record 10 zone 13: eFact, one file a day
OTHER_CONTENT = "000"  # record 10 zone 13: other, at most two files a month
REJECTING = frozenset("BFR")  # S (signal) and E (annotated) do not reject anything
MAX_PAYMENT_DAYS = 14  # the insurer pays at most 14 days after the settlement


@dataclass(frozen=True)
class Rules:
    """The insurer's tunable thresholds (domain-rules 11 lists them as OA-specific)."""

    max_error_percent: float = 5.0  # above this share of records in error: 920099 type 02
    # ... and only from this many records in error at their origin (cascades not counted).
    # One rejected invoice or service never rejects a whole file: a one-invoice test file
    # (the CIN's have 8 records) would otherwise be refused for any error, while a 920098
    # was seen accepting 16.66 % in error (domain-rules 6.1: the threshold is OA-specific).
    min_records_in_error: int = 2
    payment_days: int = MAX_PAYMENT_DAYS  # payment date = settlement day + this
    max_other_files_per_month: int = 2  # Z13 = 000 without derogation

    def __post_init__(self) -> None:
        if not 0 <= self.payment_days <= MAX_PAYMENT_DAYS:
            raise ValueError(
                f"payment_days {self.payment_days} must be between 0 and {MAX_PAYMENT_DAYS}"
            )
        if not 0 <= self.max_error_percent <= 100:
            raise ValueError(f"max_error_percent {self.max_error_percent} is not a percentage")
        if self.min_records_in_error < 1:
            raise ValueError(f"min_records_in_error {self.min_records_in_error} must be >= 1")


@dataclass(frozen=True)
class FileFacts:
    """What the file-level rules read from record 10."""

    third_party: str  # zone 14, 12 digits
    sending_number: str  # zone 7, 3 digits
    content: str  # zone 13: 040 eFact, 000 other


@dataclass(frozen=True)
class PriorFile:
    """A file the insurer already accepted from the same third party."""

    received_on: date
    sending_number: str
    content: str


@dataclass(frozen=True)
class Decision:
    verdict: str  # ACCEPTED or REJECTED
    rejection_type: str  # zone 311: "00" accepted, BLOCKING or TOO_MANY
    percentage: str  # zone 310: 5 digits, 10000 = 100.00 %
    records: int
    records_in_error: int
    rejections: tuple[Rejection, ...]

    @property
    def accepted(self) -> bool:
        return self.verdict == ACCEPTED


@dataclass(frozen=True)
class Settlement:
    """920900 totals (account A, cents) and the payment date."""

    requested: int
    accepted: int
    rejected: int
    payment_date: date


def file_facts(record10: Record) -> FileFacts:
    text = record10.text
    return FileFacts(third_party=text[55:67], sending_number=text[32:35], content=text[52:55])


# -- file-level rules (domain-rules 6.5: 100721, 100723, 100724) ------------------------------


def file_rules(
    facts: FileFacts,
    received_on: date,
    prior: Iterable[PriorFile],
    rules: Rules = Rules(),
    *,
    index: int = 1,
    third_party_known: bool = True,
) -> list[Rejection]:
    """Rejections of record 10 (at `index`) given the files already accepted and whether the
    insurer knows the third party of zone 14 (101420 when not)."""
    same_year = same_day = same_month = 0
    reused = False
    for file in prior:
        if file.received_on.year != received_on.year:
            continue
        same_year += 1
        reused = reused or file.sending_number == facts.sending_number
        if file.received_on.month == received_on.month:
            same_month += 1
            if file.received_on == received_on and file.content == EFACT_CONTENT:
                same_day += 1
    found = []
    if not third_party_known:
        found.append(
            rejection(
                "101420",
                index,
                "10",
                "14",
                detail=f"third party {facts.third_party} unknown to the insurer",
            )
        )
    if reused:
        found.append(
            rejection(
                "100721",
                index,
                "10",
                "7",
                detail=f"sending number {facts.sending_number} already used in {received_on.year}",
            )
        )
    if facts.content == EFACT_CONTENT and same_day:
        found.append(
            rejection(
                "100724",
                index,
                "10",
                "7",
                detail=f"an eFact file was already received on {received_on}",
            )
        )
    if facts.content == OTHER_CONTENT and same_month >= rules.max_other_files_per_month:
        found.append(
            rejection(
                "100723",
                index,
                "10",
                "7",
                detail=f"{same_month} files already received in {received_on:%Y-%m}",
            )
        )
    return found


# -- a rejection forced by a scenario ---------------------------------------------------------

# Where a forced code lands when the file has no record of the code's own type, by letter:
# a file code on the header, an invoice code on the first invoice, a record code on the
# first service.
_FALLBACK_TYPE = {"B": "10", "F": "20", "R": "50", "E": "50", "S": "50"}


def forced(
    kinds: Sequence[str],
    code: str,
    letter: str | None = None,
    links: dict[int, int] | None = None,
) -> Rejection | None:
    """The rejection a scenario forces with `code` (catalogue letter unless `letter`), placed
    on the first record of the code's own type (its first two digits: 100724 on the record
    10, 200820 on the first 20, 514225 on the first 51), else on the first record of its
    letter's level: B the header, F the first invoice (20), R/E/S the first service (50).
    A code that only a record 51/52 can carry (514225, 510119), and 500119, which only a
    secondary service can carry (the first supplement of `links`, `supplement_links`), have
    no fallback. None when the file has no such record.
    """
    chosen = letter or letter_of(code)
    if code == "500119":
        if not links:
            return None
        index = min(links)
        return rejection(code, index, "50", "1", letter=chosen, detail="forced by the scenario")
    own_only = code[:2] in ("51", "52") or code[2:] == "0119"
    wanted = (code[:2],) if own_only else (code[:2], _FALLBACK_TYPE.get(chosen, "50"))
    for kind in wanted:
        if kind in kinds:
            index = kinds.index(kind) + 1
            return rejection(
                code, index, kind, _zone_of(code), letter=chosen, detail="forced by the scenario"
            )
    return None


def _zone_of(code: str) -> str:
    """Zone of a 6-digit code (record 2, zone 2, error 2) as the layouts number it: "07" -> "7"."""
    return code[2:4].lstrip("0") or "0"


# -- cascades (domain-rules 6.3: x0119) -------------------------------------------------------


def cascade(
    kinds: Sequence[str], rejections: Iterable[Rejection], links: dict[int, int] | None = None
) -> list[Rejection]:
    """The checker's rejections plus the cascades, main to secondary (domain-rules 6.5,
    S-FAQ-MC: "secondary services ... rejected with the main service"): a supplement 50 whose
    main service 50 is rejected gets 500119 (`links`: supplement index -> main index, see
    `supplement_links`); a 51/52 whose 50 is rejected gets 510119/520119. A record already
    rejected for its own error keeps only that. A 50 is never rejected for its 51/52: the
    amount is the 50's, and a wrong commitment number is the 51's own 514225.

    `kinds[i]` is the type of record i+1 (its 1-based index in the file).
    """
    found = list(rejections)
    by_index: dict[int, list[Rejection]] = defaultdict(list)
    for item in found:
        by_index[item.index].append(item)

    def rejected(index: int) -> bool:
        return any(r.letter == "R" for r in by_index.get(index, ()))

    def add(index: int, kind: str, why: str) -> None:
        code = f"{kind}0119"
        if any(r.code == code for r in by_index[index]):
            return
        item = rejection(code, index, kind, "1", detail=why)
        by_index[index].append(item)
        found.append(item)

    for supplement, main in sorted((links or {}).items()):
        if rejected(main) and not rejected(supplement):
            add(supplement, "50", f"its main service (record {main}) is rejected")
    for block in _blocks(kinds):
        head, followers = block[0], block[1:]
        if rejected(head):
            for index in followers:
                if not rejected(index):  # already rejected for its own error: that says it
                    add(index, kinds[index - 1], "its record 50 is rejected")
    return sorted(found, key=lambda r: r.index)


def _blocks(kinds: Sequence[str]) -> list[list[int]]:
    """Record indexes of each block: a 50 and the 51/52 that follow it."""
    blocks: list[list[int]] = []
    for position, kind in enumerate(kinds, start=1):
        if kind == "50":
            blocks.append([position])
        elif kind in ("51", "52") and blocks and blocks[-1][-1] == position - 1:
            blocks[-1].append(position)
    return blocks


# -- the verdict ------------------------------------------------------------------------------


def percentage(in_error: int, records: int) -> str:
    """Zone 310: two decimals in 5 digits, rounded down (10000 = 100.00 %)."""
    return f"{in_error * 10000 // records if records else 0:05d}"


def decide(
    kinds: Sequence[str],
    checked: Iterable[Rejection],
    facts: FileFacts | None,
    received_on: date,
    prior: Iterable[PriorFile],
    rules: Rules = Rules(),
    *,
    third_party_known: bool = True,
    force: Rejection | None = None,
    links: dict[int, int] | None = None,
) -> Decision:
    """920098 or 920099 for a checked file. `facts` is None when the file has no record 10
    (the checker reported it); the file-level rules are then skipped. `force` (see `forced`)
    is added to what the rules found, as if the insurer had found it, before the cascades."""
    found = list(checked)
    if facts is not None:
        found = (
            file_rules(facts, received_on, prior, rules, third_party_known=third_party_known)
            + found
        )
    if force is not None and not any(
        r.index == force.index and r.code == force.code for r in found
    ):
        found.append(force)
    found = cascade(kinds, found, links)
    rejecting = [r for r in found if r.letter in REJECTING]
    in_error = len({r.index for r in rejecting})
    at_origin = len({r.index for r in rejecting if r.code[2:] != "0119"})
    records = len(kinds)
    share = percentage(in_error, records)
    if any(r.letter == "B" for r in found):
        verdict, kind = REJECTED, BLOCKING
    elif (
        in_error * 100 > rules.max_error_percent * records
        and at_origin >= rules.min_records_in_error
    ):
        verdict, kind = REJECTED, TOO_MANY
    else:
        verdict, kind = ACCEPTED, "00"
    return Decision(verdict, kind, share, records, in_error, tuple(found))


# -- the patient's history: the ledger (docs/rules.md "eFact") ---------------------------------


@dataclass(frozen=True)
class Billed:
    """One record 50 as the ledger sees it, with the record 20 of its invoice."""

    index: int
    invoice: int  # index of its record 20
    service: LedgerService


def billed_services(
    records: Iterable[Record], insurer: str, reference: str, channel: Channel = Channel.EFACT
) -> list[Billed]:
    """The services of a file (its records 50 with a numeric code and a real first date), in
    file order. Source "<file reference>/<invoice number>", line = the record's index, so that
    a file recorded again replaces its own services (ledger: same source and line)."""
    found: list[Billed] = []
    invoice, number = 0, ""
    for record in records:
        text = record.text
        if record.type == "20":
            invoice, number = record.index, text[114:126].lstrip("0") or "0"
            continue
        if record.type != "50":
            continue
        code, day = text[9:16], _day(text[16:24])
        if not ascii_digits(code) or day is None:
            continue
        units, tooth = text[107:112], text[162:164]
        found.append(Billed(record.index, invoice, LedgerService(
            insurer=insurer,
            patient=text[37:48],
            code=code,
            day=day,
            provider=text[68:79],
            channel=channel,
            source=f"{reference}/{number}",
            line=record.index,
            quantity=int(units[1:]) if units[:1] in "+0" and units[1:].isdigit() else 1,
            tooth=tooth if ascii_digits(tooth) and tooth != "00" else None,
            distinct=ledger_rules.declares_distinct(text[112:114]),
        )))  # fmt: skip
    return found


def _day(text: str) -> date | None:
    if len(text) != 8 or not ascii_digits(text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def supplement_links(billed: Sequence[Billed]) -> dict[int, int]:
    """Supplement record -> its main service's record: same invoice, patient, day and provider,
    the main code one `nomenclature.MAIN_SERVICES` names for the supplement."""
    links: dict[int, int] = {}
    mains: dict[tuple[int, str, date, str], list[Billed]] = defaultdict(list)
    for item in billed:
        s = item.service
        mains[(item.invoice, s.patient, s.day, s.person)].append(item)
    for item in billed:
        s = item.service
        wanted = nomenclature.MAIN_SERVICES.get(s.code)
        if wanted is None:
            continue
        for other in mains[(item.invoice, s.patient, s.day, s.person)]:
            if other.service.code in wanted:
                links[item.index] = other.index
                break
    return links


def ledger_findings(
    billed: Sequence[Billed],
    history: Iterable[LedgerService],
    rejected: Iterable[int] = (),
    table: ledger_rules.Constraints | None = None,
) -> list[Rejection]:
    """The rules of `ledger_rules` for each service in file order against the patient's
    `history` at the insurer (other files, eAttest) and the services before it in the file:
    the same consultation later, twice in an invoice, after an eAttest -> 502255, ...
    A service rejected already (`rejected`: record indexes) is judged but joins no history:
    the insurer did not accept it."""
    skip = set(rejected)
    known: dict[str, list[LedgerService]] = defaultdict(list)
    for old in history:
        known[old.patient].append(old)
    found: list[Rejection] = []
    for item in billed:
        service = item.service
        past = known[service.patient]
        findings = ledger_rules.judge(past, service, table)
        for finding in findings:
            found.append(rejection(finding.code, item.index, "50", _zone_of(finding.code),
                                   detail=_why(finding)))  # fmt: skip
        if not findings and item.index not in skip:
            past.append(service)
    return found


def _why(finding: ledger_rules.Finding) -> str:
    other = finding.conflict
    if other is None:
        return finding.rule
    return f"{finding.rule}: {other.channel.value} {other.source} ({other.code} on {other.day})"


def paid_services(billed: Sequence[Billed], rejections: Iterable[Rejection]) -> list[LedgerService]:
    """What the insurer keeps in its ledger once the file is accepted: the services paid, not
    those rejected (R/F/B on the 50) or whose invoice is rejected (F/B on its 20, 25 or 80)."""
    letters: dict[int, set[str]] = defaultdict(set)
    for item in rejections:
        letters[item.index].add(item.letter)
    invoice_letters = {"F", "B"}
    rejected_invoices = {
        index for index, found in letters.items() if found & invoice_letters
    }
    # An F on the 25 or 80 of an invoice: every record from its 20 to its 80 is that invoice.
    starts = sorted({item.invoice for item in billed})
    bad_starts = set()
    for index in rejected_invoices:
        position = bisect.bisect_right(starts, index)
        if position:
            bad_starts.add(starts[position - 1])
    return [
        item.service
        for item in billed
        if not letters.get(item.index, set()) & REJECTING and item.invoice not in bad_starts
    ]


# -- the settlement ---------------------------------------------------------------------------


def settle(
    records: Iterable[Record], rejections: Iterable[Rejection], today: date, rules: Rules = Rules()
) -> Settlement:
    """Totals of account A over the 50 records: a service is paid unless it, or its invoice
    (an F or B on its 20, 25 or 80), is rejected. Streams one invoice at a time."""
    letters: dict[int, set[str]] = defaultdict(set)
    for item in rejections:
        letters[item.index].add(item.letter)
    requested = accepted = 0
    pending: list[tuple[int, bool]] = []  # (amount, service rejected) of the current invoice
    invoice_rejected = False
    for record in records:
        mine = letters.get(record.index, set())
        if record.type == "20":
            pending, invoice_rejected = [], bool(mine & {"F", "B"})
        elif record.type == "25":  # MediPrima beneficiary: an F there rejects the invoice
            invoice_rejected = invoice_rejected or bool(mine & {"F", "B"})
        elif record.type == "50":
            text = record.text
            amount = int(text[87:99]) if ascii_digits(text[88:99]) else 0
            pending.append((amount, bool(mine & REJECTING)))
        elif record.type == "80":
            invoice_rejected = invoice_rejected or bool(mine & {"F", "B"})
            for amount, service_rejected in pending:
                requested += amount
                if not (invoice_rejected or service_rejected):
                    accepted += amount
            pending = []
    return Settlement(
        requested=requested,
        accepted=accepted,
        rejected=requested - accepted,
        payment_date=today + timedelta(days=rules.payment_days),
    )
