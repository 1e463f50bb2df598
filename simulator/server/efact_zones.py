"""An eFact flat file as records and zones, each error on its zone, for the QA page.

A posted 920000 is checked as the insurer checks it (the errors it would answer); an answer
(920098/920099/920900) carries its errors in the error block after each echoed record. Large
files are cut: the first records and every record with an error, up to MAX_RECORDS.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from simulator.domain.population import Population
from simulator.efact.block import parse_block
from simulator.efact.checks import CheckOptions, check_file, framing_rejections
from simulator.efact.errors import Rejection, texts
from simulator.efact.layout import RecordLayout, layout, layouts
from simulator.efact.parser import (
    MESSAGE_920000,
    EfactFormatError,
    Header,
    Record,
    frame,
    parse,
)

MAX_RECORDS = 200
MAX_CHECKED_BYTES = 4 * 1024 * 1024
_SEGMENT_NUMBERS = ("92", "93")  # message types 92xxxx (files, answers), 93xxxx (receipts)


def looks_like_efact(content: bytes) -> bool:
    head = content[:6]
    return len(content) >= 67 and head.isdigit() and head[:2].decode() in _SEGMENT_NUMBERS


def efact_view(
    content: bytes, today: date | None = None, population: Population | None = None
) -> dict[str, Any]:
    """{message_type, segments, records, errors, shown, total, problem} as JSON values."""
    try:
        header, records = parse(content)
        segments = [
            _record_view("200", "segment 200", header.segment200, layout("200"), []),
            _record_view("300", "segment 300", header.segment300, header.segment300_layout, []),
        ]
    except (EfactFormatError, KeyError, UnicodeDecodeError) as error:
        return {"problem": f"not readable as an eFact file: {error}", "records": []}
    found = _checked(content, header, today, population)
    by_index: dict[int, list[Rejection]] = {}
    for rejection in found:
        by_index.setdefault(rejection.index, []).append(rejection)
    shown: list[dict[str, Any]] = []
    total = 0
    try:
        for record in records:
            total += 1
            rejections = by_index.get(record.index, [])
            errors = [_checked_error(r) for r in rejections] + _block_errors(record)
            if len(shown) < MAX_RECORDS and (total <= MAX_RECORDS // 2 or errors):
                shown.append(_record_of(record, errors))
    except EfactFormatError as error:
        return {"message_type": header.message_type, "segments": segments, "records": shown,
                "total": total, "problem": str(error)}  # fmt: skip
    file_errors = [_checked_error(r) for r in by_index.get(0, [])]
    return {
        "message_type": header.message_type,
        "segments": segments,
        "file_errors": file_errors,
        "records": shown,
        "total": total,
        "problem": None,
    }


def _checked(
    content: bytes, header: Header, today: date | None, population: Population | None
) -> list[Rejection]:
    """What the insurer finds in a posted 920000 (answers carry their own error blocks)."""
    if header.message_type != MESSAGE_920000 or today is None:
        return []
    if len(content) > MAX_CHECKED_BYTES:
        return []
    framed = frame(content)
    try:
        return framing_rejections(framed) + check_file(
            framed.content, CheckOptions(today=today, population=population)
        )
    except (EfactFormatError, ValueError, KeyError):
        return []


def _record_of(record: Record, errors: list[dict[str, Any]]) -> dict[str, Any]:
    found = layouts().get(record.type)
    if found is None:
        return {"index": record.index, "type": record.type, "name": "unknown record type",
                "zones": [], "errors": errors, "text": record.text}  # fmt: skip
    return _record_view(str(record.index), found.name, record.text, found, errors, record.type)


def _record_view(
    index: str,
    name: str,
    text: str,
    record_layout: RecordLayout,
    errors: list[dict[str, Any]],
    kind: str = "",
) -> dict[str, Any]:
    zones = []
    placed: set[int] = set()
    for zone in record_layout.zones:
        mine = [
            i for i, error in enumerate(errors) if i not in placed and _on_zone(error, zone.name)
        ]
        placed.update(mine)
        zones.append(
            {
                "zone": zone.zones,
                "label": zone.label,
                "start": zone.start + 1,  # positions as the official table counts them
                "length": zone.length,
                "value": text[zone.start : zone.end],
                "errors": [errors[i] for i in mine],
            }
        )
    unplaced = [error for i, error in enumerate(errors) if i not in placed]
    return {"index": index, "type": kind, "name": name, "zones": zones,
            "errors": unplaced, "error_count": len(errors)}  # fmt: skip


def _on_zone(error: dict[str, Any], zone_name: str) -> bool:
    """Whether `error` names this zone: "8" is zone 8a,8b; a code's two zone digits ("41")
    also name a three-digit zone (410)."""
    wanted = str(error.get("zone") or "")
    if not wanted or wanted == "0":
        return False
    if wanted == zone_name:
        return True
    digits = "".join(ch for ch in zone_name if ch.isdigit())
    if not (digits and wanted.isdigit()):
        return False
    if int(digits) == int(wanted):
        return True
    return error.get("from_code") is True and len(digits) == 3 and digits[:2] == wanted.zfill(2)


def _checked_error(rejection: Rejection) -> dict[str, Any]:
    return {
        "code": rejection.code,
        "letter": rejection.letter,
        "zone": rejection.zone,
        "text": rejection.fr,
        "detail": rejection.detail,
    }


def _block_errors(record: Record) -> list[dict[str, Any]]:
    """The errors the insurer wrote in the error block after an echoed record."""
    if not record.error_block:
        return []
    try:
        block = parse_block(record.error_block)
    except ValueError:
        return []
    errors = []
    for error in block.errors:
        code = error.code.strip()
        try:
            text = texts(code)[0]
        except KeyError:
            text = ""
        zone = str(int(code[2:4])) if len(code) == 6 and code[2:4].isdigit() else ""
        errors.append({"code": code, "letter": error.letter, "zone": zone, "text": text,
                       "detail": block.comment, "from_code": True})  # fmt: skip
    return errors
