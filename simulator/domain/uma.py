"""Urgent medical aid (AMU/DMH) attestations: what MediPrima UMA accepts (domain-rules 8.2).

A doctor attests that care given to a person entitled only to urgent medical aid was urgent;
CAAMI checks the attestation before paying. Plain rules over plain data: the service stores the
accepted attestations (they must survive a restart) and hands the stored ones back to these
rules. No UMA error catalogue was found: codes and texts are ours [A].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from simulator.domain.identifiers import is_valid_nihii, is_valid_niss, nihii_profession
from simulator.domain.mediprima import RegistryMessage, Severity

if TYPE_CHECKING:
    from simulator.domain.population import Population

ORIGIN = "MediPrima UMA"
MAX_COVER_LENGTH = 100

_ERRORS: dict[str, tuple[str, str]] = {
    "INVALID_SSIN": (
        "Le NISS du bénéficiaire {0} n'est pas valide.",
        "Het INSZ van de begunstigde {0} is niet geldig.",
    ),
    "NO_DECISION": (
        "Le bénéficiaire {0} n'a pas de décision de prise en charge valide le {1}.",
        "De begunstigde {0} heeft geen geldige beslissing tot tenlasteneming op {1}.",
    ),
    "NOT_URGENT_MEDICAL_AID": (
        "La décision {0} ne se limite pas à l'aide médicale urgente : aucune attestation AMU "
        "n'est nécessaire.",
        "De beslissing {0} is niet beperkt tot dringende medische hulp: er is geen DMH-attest "
        "nodig.",
    ),
    "INVALID_PERIOD": (
        "La période de validité est invalide : la fin {1} précède le début {0}.",
        "De geldigheidsperiode is ongeldig: het einde {1} ligt vóór het begin {0}.",
    ),
    "START_IN_FUTURE": (
        "L'attestation ne peut pas commencer dans le futur ({0}).",
        "Het attest kan niet in de toekomst beginnen ({0}).",
    ),
    "INVALID_MEDICAL_COVER": (
        "La couverture médicale est vide ou trop longue.",
        "De medische dekking is leeg of te lang.",
    ),
    "AUTHOR_NOT_DOCTOR": (
        "L'auteur {0} n'est pas un médecin : seul un médecin peut attester l'aide médicale "
        "urgente.",
        "De auteur {0} is geen arts: enkel een arts kan dringende medische hulp attesteren.",
    ),
    "AUTHOR_NOT_CALLER": (
        "L'auteur {0} n'est pas le prestataire authentifié {1}.",
        "De auteur {0} is niet de geauthenticeerde zorgverlener {1}.",
    ),
    "DUPLICATE": (
        "Une attestation identique existe déjà : {0}.",
        "Er bestaat al een identiek attest: {0}.",
    ),
    "NOT_FOUND": (
        "Aucune attestation {0} pour le bénéficiaire {1}.",
        "Geen attest {0} voor de begunstigde {1}.",
    ),
    "NOT_AUTHOR": (
        "L'attestation {0} a été faite par un autre médecin : seul son auteur peut la supprimer.",
        "Het attest {0} werd door een andere arts opgemaakt: enkel de auteur kan het schrappen.",
    ),
}


def error(code: str, *arguments: object) -> RegistryMessage:
    """The UMA error `code` with its placeholders filled in (KeyError if unknown)."""
    fr, nl = _ERRORS[code]
    return RegistryMessage(code, Severity.ERROR, fr.format(*arguments), nl.format(*arguments))


@dataclass(frozen=True)
class Party:
    """One core:HcParty of the author: its ids (Type URI, value) and names."""

    ids: tuple[tuple[str, str], ...]
    name: str
    first_name: str | None = None

    @property
    def nihii(self) -> str | None:
        return next((value for kind, value in self.ids if "nihii" in kind.lower()), None)


@dataclass(frozen=True)
class UmaAttestation:
    number: str
    author: tuple[Party, ...]
    beneficiary_ssin: str
    start: date
    end: date | None
    medical_cover: str
    created: date

    @property
    def author_nihii(self) -> str | None:
        return next((n for party in self.author if (n := party.nihii)), None)

    def overlaps(self, start: date, end: date | None) -> bool:
        return (end is None or self.start <= end) and (self.end is None or start <= self.end)

    def to_record(self) -> dict[str, Any]:
        """The JSON document the store keeps."""
        return {
            "number": self.number,
            "author": [
                {"ids": [list(i) for i in p.ids], "name": p.name, "first_name": p.first_name}
                for p in self.author
            ],
            "beneficiary_ssin": self.beneficiary_ssin,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "medical_cover": self.medical_cover,
            "created": self.created.isoformat(),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> UmaAttestation:
        return cls(
            number=record["number"],
            author=tuple(
                Party(tuple((k, v) for k, v in p["ids"]), p["name"], p.get("first_name"))
                for p in record["author"]
            ),
            beneficiary_ssin=record["beneficiary_ssin"],
            start=date.fromisoformat(record["start"]),
            end=date.fromisoformat(record["end"]) if record.get("end") else None,
            medical_cover=record["medical_cover"],
            created=date.fromisoformat(record["created"]),
        )


@dataclass(frozen=True)
class SendUma:
    author: tuple[Party, ...]
    beneficiary_ssin: str
    start: date
    end: date | None
    medical_cover: str


def check_send(
    request: SendUma,
    population: Population,
    today: date,
    existing: Sequence[UmaAttestation],
    caller_nihii: str | None = None,
) -> RegistryMessage | None:
    """Why MediPrima refuses this attestation, or None when it may be recorded.

    `existing` holds the attestations already stored for this beneficiary; `caller_nihii` is
    the NIHII of the authenticated caller (its token), when security is checked.
    """
    ssin = request.beneficiary_ssin.strip()
    if not (len(ssin) == 11 and ssin.isdigit() and is_valid_niss(ssin, today=today)):
        return error("INVALID_SSIN", ssin)
    nihii = next((n for party in request.author if (n := party.nihii)), None)
    if nihii is None or not is_valid_nihii(nihii) or nihii_profession(nihii) != "PHYSICIAN":
        return error("AUTHOR_NOT_DOCTOR", nihii or "-")
    if caller_nihii is not None and caller_nihii[:8] != nihii[:8]:
        return error("AUTHOR_NOT_CALLER", nihii, caller_nihii)
    if request.end is not None and request.end < request.start:
        return error("INVALID_PERIOD", request.start, request.end)
    if request.start > today:
        return error("START_IN_FUTURE", request.start)
    cover = request.medical_cover.strip()
    if not cover or len(cover) > MAX_COVER_LENGTH:
        return error("INVALID_MEDICAL_COVER")
    patient = population.find(ssin)
    decision = patient.decision_on(request.start) if patient is not None else None
    if decision is None:
        return error("NO_DECISION", ssin, request.start)
    if not decision.medical_urgency:
        return error("NOT_URGENT_MEDICAL_AID", decision.carmed_number)
    for held in existing:
        if (held.start, held.end, held.medical_cover) == (request.start, request.end, cover):
            return error("DUPLICATE", held.number)
    return None


def search(
    held: Sequence[UmaAttestation],
    *,
    number: str | None = None,
    start: date | None = None,
    end: date | None = None,
    medical_cover: str | None = None,
) -> tuple[UmaAttestation, ...]:
    """The beneficiary's attestations with that number, or overlapping [start, end] (and of
    that cover when given), in number order."""
    if number is not None:
        found = [a for a in held if a.number == number]
    else:
        found = [
            a
            for a in held
            if (start is None or a.overlaps(start, end))
            and (medical_cover is None or a.medical_cover == medical_cover)
        ]
    return tuple(sorted(found, key=lambda a: a.number))


def check_delete(
    attestation: UmaAttestation | None, number: str, ssin: str, author_nihii: str | None
) -> RegistryMessage | None:
    """Only the doctor who made an attestation may delete it (same person: first 8 digits)."""
    if attestation is None:
        return error("NOT_FOUND", number, ssin)
    made_by = attestation.author_nihii
    if made_by is not None and (author_nihii is None or author_nihii[:8] != made_by[:8]):
        return error("NOT_AUTHOR", number)
    return None


def attestation_number(today: date, sequence: int) -> str:
    """`UMA-yyyymmdd-nnnnnnnn`: the day it was made and a store sequence, so unique and stable."""
    return f"UMA-{today:%Y%m%d}-{sequence:08d}"
