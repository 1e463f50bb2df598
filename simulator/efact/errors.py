"""Rejections of eFact records: where (record, type, zone), the 6-digit code, the letter, texts.

A code is record type (2) + zone (2) + error number (2) (wire-formats 6.5); the letter and the
FR/NL texts come from the efact catalogue (simulator/domain/data/errors-efact.json). Letters:
B blocking (whole file), F invoice, R record, E annotated, S signal (domain-rules 6.3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from simulator.domain.catalogue import ErrorCatalogue

LETTERS = frozenset("BREFS")

# Summary records 95/96 have no codes in the official catalogue; the simulator uses these
# (record + 2-digit zone prefix + error) so that every finding can still be reported.
_OWN_CODES: dict[str, tuple[str, str, str]] = {
    "954102": (
        "B",
        "Chiffre de contrôle par mutualité (ET 95 Z 410) erroné",
        "Controlecijfer per ziekenfonds (RT 95 Z 410) foutief.",
    ),
    "965102": (
        "B",
        "Chiffre de contrôle de l'envoi (ET 96 Z 510) erroné",
        "Controlecijfer van de zending (RT 96 Z 510) foutief.",
    ),
    "954010": (
        "B",
        "Montant demandé compte A (ET 95 Z 404) différent du total des factures",
        "Gevraagd bedrag rekening A (RT 95 Z 404) verschilt van het totaal van de facturen.",
    ),
    "965010": (
        "B",
        "Montant demandé compte A (ET 96 Z 504) différent du total des mutualités",
        "Gevraagd bedrag rekening A (RT 96 Z 504) verschilt van het totaal van de ziekenfondsen.",
    ),
}

# Zone "00" (no layout has one) names the record as a whole. The catalogue has per-zone codes
# only: "ZZ01 non numerique" (numeric zones) and "ZZ03 non autorise" are what the real checks
# give for a character a zone does not allow (EfactErrors.json, e.g. 500801, 501903), and
# `checks.invalid_character_code` uses them. These own codes cover what they cannot: an invalid
# character where the catalogue has no code for the zone (free-text zone 28, reserves, records
# 95/96, segments 200/300 -> on record 10), a record the file ends inside, and the insurer
# failing on a file (the answer must still be a 920099, never silence).
INVALID_CHARACTER = "03"  # T0003
INCOMPLETE_RECORD = "04"  # T0004
PROCESSING_FAILED = "100099"
OWN_RECORD_TYPES = ("10", "20", "25", "30", "50", "51", "52", "80", "90", "95", "96")
for _kind in OWN_RECORD_TYPES:
    _OWN_CODES[f"{_kind}00{INVALID_CHARACTER}"] = (
        "B",
        f"Caractere non autorise (hors ASCII imprimable) dans l'enregistrement de type {_kind}",
        f"Niet toegelaten teken (geen afdrukbare ASCII) in recordtype {_kind}.",
    )
    _OWN_CODES[f"{_kind}00{INCOMPLETE_RECORD}"] = (
        "B",
        f"Enregistrement de type {_kind} incomplet : le fichier se termine avant 350 positions",
        f"Recordtype {_kind} onvolledig: het bestand eindigt voor 350 posities.",
    )
# 500415 is only in the newer official list (PYC error_mappings.py, NL only, domain-rules 6.4
# and 6.5); the ledger rules return it for a prosthesis without its stages (docs/rules.md).
_OWN_CODES["500415"] = (
    "R",
    "Enregistrement prothese dentaire non precede des enregistrements des phases de fabrication",
    "Record tandprothese niet voorafgegaan door de records van de vervaardigingsfasen.",
)
_OWN_CODES[PROCESSING_FAILED] = (
    "B",
    "Erreur de traitement du fichier chez l'organisme assureur : fichier refuse, a renvoyer",
    "Verwerkingsfout van het bestand bij de verzekeringsinstelling: bestand geweigerd, opnieuw "
    "verzenden.",
)


def own_code(kind: str, error: str) -> str:
    """The simulator's T00EE code for record type `kind` (segments and unknown types: 10)."""
    return f"{kind if kind in OWN_RECORD_TYPES else '10'}00{error}"


def known_code(code: str) -> bool:
    """Whether `code` is in the catalogue or one of the simulator's own codes."""
    return code in _OWN_CODES or code in _letters()


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int  # 1-based record position in the file (0 = segments 200/300)
    record_type: str  # "10", "50" ...
    zone: str  # zone number as in the layout ("4", "98", "410")
    code: str  # 6 characters: record + zone + error
    letter: str  # B R E F S
    fr: str
    nl: str
    detail: str = ""  # what the simulator found, for people reading a report

    def __str__(self) -> str:
        where = f"record {self.index} (type {self.record_type}) zone {self.zone}"
        extra = f" [{self.detail}]" if self.detail else ""
        return f"{where}: {self.letter}{self.code} {self.fr}{extra}"


@cache
def _letters() -> dict[str, str]:
    """Default letter per code; the catalogue's dataclass does not carry it, the data does."""
    data = resources.files("simulator.domain").joinpath("data", "errors-efact.json")
    records = json.loads(data.read_text(encoding="utf-8"))
    letters: dict[str, str] = {}
    for record in records:
        letters.setdefault(record["code"], record.get("type") or "R")
    return letters


def letter_of(code: str) -> str:
    """The catalogue's default letter for `code`; KeyError when the code is unknown."""
    if code in _OWN_CODES:
        return _OWN_CODES[code][0]
    try:
        return _letters()[code]
    except KeyError:
        raise KeyError(f"eFact code {code!r} is not in the catalogue") from None


@cache
def texts(code: str) -> tuple[str, str]:
    """(FR, NL) texts of a code; KeyError when the code is unknown."""
    if code in _OWN_CODES:
        return _OWN_CODES[code][1], _OWN_CODES[code][2]
    entry = ErrorCatalogue.load("efact").entry(code)
    return entry.fr, entry.nl


def rejection(
    code: str,
    index: int,
    record_type: str,
    zone: str,
    *,
    detail: str = "",
    letter: str | None = None,
) -> Rejection:
    """A rejection with the catalogue's letter (unless `letter` overrides it) and texts."""
    chosen = letter or letter_of(code)
    if chosen not in LETTERS:
        raise ValueError(f"rejection letter {chosen!r} is not one of B R E F S")
    fr, nl = texts(code)
    return Rejection(index, record_type, zone, code, chosen, fr, nl, detail)
