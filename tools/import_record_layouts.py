"""Convert the eFact record-layout table into the simulator's own layout data.

Usage: python tools/import_record_layouts.py [REFERENCE_DIR]   (default ../shared/reference)

Reads REFERENCE_DIR/efact/record-layouts.csv and writes simulator/efact/data/record-layouts.json:
one entry per record kind (key "10", "50", segment keys "200", "300", "300E", "300S" ...) with
its length and zones (0-based start, length, N/A type, fixed value). Positions are checked to
tile each record without gaps, so a wrong row fails here and not in a parser at run time.
Re-runnable: the output depends only on the input.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "simulator" / "efact" / "data" / "record-layouts.json"

# CSV record name -> our key; segment 300 comes in three variants (wire-formats 6.2).
_SEGMENT_KEYS = {
    "Segment200": "200",
    "Segment300": "300",
    "Segment300Error": "300E",
    "Segment300Stub": "300S",
}


def record_key(name: str) -> str:
    if name in _SEGMENT_KEYS:
        return _SEGMENT_KEYS[name]
    match = re.fullmatch(r"(?:Segment\d00)?Record(\d\d)", name)
    if match is None:
        raise ValueError(f"unknown record name {name!r} in the layout table")
    return match.group(1)


def zone_name(zones: str) -> str:
    """The first zone a row covers ("8a,8b" -> "8a", "1," -> "1"): unique within a record."""
    return zones.split(",")[0].strip()


def convert(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = record_key(row["record"])
        record = records.setdefault(key, {"key": key, "name": row["record"], "zones": []})
        record["zones"].append(
            {
                "zone": zone_name(row["zones"]),
                "zones": row["zones"].replace(" ", ""),
                "label": row["label"].strip(),
                "property": row["property"],
                "type": row["type"],
                "start": int(row["start_1based"]) - 1,
                "length": int(row["length"]),
                "fixed": row["fixed_value"],
                "checksum": row["is_checksum"] == "1",
            }
        )
    for record in records.values():
        position = 0
        for zone in record["zones"]:
            if zone["start"] != position:
                raise ValueError(f"{record['name']} zone {zone['zone']} starts at a gap/overlap")
            position += zone["length"]
        record["length"] = position
        names = [zone["zone"] for zone in record["zones"]]
        if len(set(names)) != len(names):
            raise ValueError(f"{record['name']} has duplicate zone names")
    return list(records.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = REPO.parent / "shared" / "reference"
    parser.add_argument("reference", nargs="?", type=Path, default=default)
    args = parser.parse_args(argv)
    source = args.reference / "efact" / "record-layouts.csv"
    with source.open(encoding="utf-8", newline="") as handle:
        records = convert(list(csv.DictReader(handle)))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps({"records": records}, indent=1, ensure_ascii=True) + "\n")
    print(f"{OUTPUT}: {len(records)} record layouts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
