"""Convert the official MyCareNet error catalogues into the simulator's compact data files.

Usage: python tools/import_catalogues.py [REFERENCE_DIR]   (default ../shared/reference)

Reads REFERENCE_DIR/errors/*.json and writes simulator/domain/data/errors-<name>.json: a list of
{code, path, fr, nl, location_fr, location_nl} (plus the extra keys a catalogue has), in the
catalogue's order. Re-runnable: the output depends only on the input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "simulator" / "domain" / "data"

# our catalogue name -> official file name
SOURCES = {
    "etar": "ConsultTarifErrors.json",
    "etar-mediprima": "ConsultTarificationMediprimaErrors.json",
    "eattest": "eAttestErrors.json",
    "efact": "EfactErrors.json",
    "genins": "GenInsErrors.json",
    "memberdata": "MemberDataErrors.json",
}

# Codes the official catalogue lacks but a newer list has, appended after its entries with
# their source (issue 12: the insurer's ledger rules need them).
SUPPLEMENTS: dict[str, list[dict[str, str | None]]] = {
    "efact": [
        {
            "code": "500415",
            "path": None,
            "fr": "Enregistrement prothèse dentaire non précédé des enregistrements des "
            "différentes phases de fabrication",
            "nl": "Record tandprothese niet voorafgegaan door de records met de verschillende "
            "fases van vervaardiging.",
            "location_fr": "",
            "location_nl": "",
            "type": "R",
            "source": "NL: PYC ehealth/efact/error_mappings.py (liste_codes_erreur_lijst.xls) "
            "[O]; FR: our translation [A]; letter R [A]",
        }
    ],
}


def _text(value: Any) -> str:
    """Trimmed text without the byte-order marks some entries carry."""
    return str(value or "").replace("\ufeff", "").strip()


def convert_entry(name: str, raw: dict[str, Any]) -> dict[str, str | None]:
    """One official entry -> our compact record."""
    if name == "efact":
        label = raw.get("label") or {}
        return {
            "code": _text(raw["code"]),
            "path": None,
            "fr": _text(label.get("fr")),
            "nl": _text(label.get("nl")),
            "location_fr": "",
            "location_nl": "",
            "type": _text(raw.get("type")),
        }
    record: dict[str, str | None] = {
        "code": _text(raw["code"]),
        "path": _text(raw.get("path")) or None,
        "fr": _text(raw.get("msgFr")),
        "nl": _text(raw.get("msgNl")),
        "location_fr": _text(raw.get("locFr")),
        "location_nl": _text(raw.get("locNl")),
    }
    if name == "memberdata":
        # The business code of MDA is the detail code; the SAML status codes travel alongside.
        record["code"] = _text(raw.get("detailCode")) or _text(raw["code"])
        record["status"] = _text(raw["code"])
        record["sub_status"] = _text(raw.get("subCode"))
        record["fault_code"] = _text(raw.get("faultCode"))
        record["fault_source"] = _text(raw.get("faultSource"))
        record["en"] = _text(raw.get("msgEn"))
    if raw.get("regex"):
        record["regex"] = _text(raw["regex"])
    return record


def convert(reference: Path, output: Path = OUTPUT) -> dict[str, int]:
    """Write every catalogue; returns the number of entries per catalogue."""
    errors_dir = reference / "errors"
    if not errors_dir.is_dir():
        raise FileNotFoundError(f"{errors_dir} does not exist (expected the official catalogues)")
    output.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, filename in SOURCES.items():
        raw = json.loads((errors_dir / filename).read_text(encoding="utf-8-sig"))
        if not isinstance(raw, list):
            raise ValueError(f"{filename}: expected a JSON list of entries")
        records = [convert_entry(name, entry) for entry in raw]
        known = {record["code"] for record in records}
        records += [extra for extra in SUPPLEMENTS.get(name, []) if extra["code"] not in known]
        # One record per line: compact yet readable in a diff.
        lines = ",\n".join(
            json.dumps(record, ensure_ascii=False, separators=(",", ":")) for record in records
        )
        (output / f"errors-{name}.json").write_text(f"[\n{lines}\n]\n", encoding="utf-8")
        counts[name] = len(records)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = REPO.parent / "shared" / "reference"
    parser.add_argument("reference", nargs="?", type=Path, default=default)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    for name, count in convert(args.reference, args.output).items():
        print(f"errors-{name}.json: {count} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
