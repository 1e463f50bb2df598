"""The MyCareNet error catalogues, as shipped in simulator/domain/data (tools/import_catalogues.py).

A catalogue maps a business code (and the XPath-like path it is about) to the French and Dutch
texts the real service returns. Several entries may share a code with different paths, and a few
share code and path (eTar 100/111/130 on item[claim]): the first one in catalogue order wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.domain.tarification import RuleError

NAMES = ("etar", "etar-mediprima", "eattest", "efact", "genins", "memberdata")


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    path: str | None
    fr: str
    nl: str
    location_fr: str = ""
    location_nl: str = ""
    # MemberData answers with SAML statuses: the top and second-level status codes, the
    # fault code and source of the detail, and the English text the catalogue gives.
    status: str = ""
    sub_status: str = ""
    fault_code: str = ""
    fault_source: str = ""
    en: str = ""


@dataclass(frozen=True)
class ErrorCatalogue:
    name: str
    entries: tuple[CatalogueEntry, ...]

    @classmethod
    def load(cls, name: str) -> ErrorCatalogue:
        """The catalogue `name` (one of NAMES), read once from the package data."""
        return _load(name)

    def codes(self) -> tuple[str, ...]:
        """Distinct codes in catalogue order."""
        return tuple(dict.fromkeys(entry.code for entry in self.entries))

    def entry(self, code: str, path: str | None = None) -> CatalogueEntry:
        """Best match: same code and path, else the first entry with that code.

        Raises KeyError when the code is not in the catalogue at all.
        """
        same_code = [entry for entry in self.entries if entry.code == code]
        if not same_code:
            raise KeyError(f"code {code!r} is not in the {self.name} error catalogue")
        if path is not None:
            for entry in same_code:
                if entry.path == path:
                    return entry
        return same_code[0]

    def order(self, code: str, path: str | None) -> int:
        """Position of the best entry, to sort several errors the way the catalogue lists them."""
        return self.entries.index(self.entry(code, path))


@cache
def _load(name: str) -> ErrorCatalogue:
    if name not in NAMES:
        raise KeyError(f"unknown error catalogue {name!r}; known: {', '.join(NAMES)}")
    data = resources.files("simulator.domain").joinpath("data", f"errors-{name}.json")
    records = json.loads(data.read_text(encoding="utf-8"))
    entries = tuple(
        CatalogueEntry(
            code=record["code"],
            path=record.get("path"),
            fr=record.get("fr", ""),
            nl=record.get("nl", ""),
            location_fr=record.get("location_fr", ""),
            location_nl=record.get("location_nl", ""),
            status=record.get("status", ""),
            sub_status=record.get("sub_status", ""),
            fault_code=record.get("fault_code", ""),
            fault_source=record.get("fault_source", ""),
            en=record.get("en", ""),
        )
        for record in records
    )
    return ErrorCatalogue(name, entries)


def rule_error(catalogue_name: str, code: str, path: str | None = None) -> RuleError:
    """The RuleError for `code` about `path`, with the catalogue's texts.

    The path of the result is the one asked for when given (it says where the fault is), else
    the catalogue's own path.
    """
    # Imported here: tarification's rules use this module, and RuleError lives there.
    from simulator.domain.tarification import RuleError

    entry = ErrorCatalogue.load(catalogue_name).entry(code, path)
    return RuleError(
        code=code, path=path or entry.path or "", message_fr=entry.fr, message_nl=entry.nl
    )
