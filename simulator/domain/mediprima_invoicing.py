"""CAAMI's checks of MediPrima invoices: eFact files sent to federation 690 (mailbox hcpfac_12).

Pure rules over the world of the processing day and the AMU attestations stored by the UMA
service; `simulator.efact.checks` calls them for every invoice of a MediPrima file and reports
what they find at the record and zone they name. The table in docs/rules.md ("eFact to CAAMI
690") lists each code with its cause and how to trigger it.

* The beneficiary must be known to MediPrima: a CPAS decision, whatever its state (200820 on
  record 20; an insured patient without decision is not CAAMI's).
* Record 25 (MediPrima beneficiary) must agree with the decision: card number (255620) and
  version (255920), CPAS enterprise number (253820), urgent-medical-aid code (251220).
* Each service (record 50) needs, on its first date: the patient alive (500549); a decision
  valid, not suspended, with an active doctor cover, for care from 1 Oct 2017 (500540, the
  detail says which); the provider on the decision's doctors' list (501540); for urgent medical
  aid only, an AMU attestation covering the day (500540); the amounts of the State + CPAS parts
  (zone 19, 501940) and the patient part (zone 27, 502741) as CAAMI tarification gives them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from simulator.domain import nomenclature
from simulator.domain.cpas import MEDIPRIMA_GP_OPEN, CareKind, CpasDecision
from simulator.domain.mediprima import patient_decision, uma_attestation_for
from simulator.domain.population import Patient, Population
from simulator.domain.tarification_mediprima import AmuAttestations, split

MEDIPRIMA_FEDERATION = "690"  # record 20 zone 18 of every MediPrima invoice (IFHC) [O]
Finding = tuple[str, str, str]  # rejection code, zone, detail


@dataclass(frozen=True)
class Record25:
    """What CAAMI reads of a record 25 (wire-formats 7.4), zones as written (stripped)."""

    beneficiary: str  # zone 8: "00" + NISS
    urgent_aid: str  # zone 12: "1" urgent medical aid, "0" not
    cpas_cbe: str  # zone 38: the CPAS's BCE number, 10 digits (left-padded to 12)
    card_number: str  # zones 56-58: the medical card (decision) number
    card_version: str  # zone 59


@dataclass(frozen=True)
class Prices:
    """One unit of a code under a decision, in cents: what CAAMI pays (State + CPAS parts,
    record 50 zone 19) and what the patient pays (zone 27)."""

    amount: int
    share: int


def prices(code: str, patient: Patient, kind: str, day: date, decision: CpasDecision) -> Prices:
    """The CAAMI tarification split of `code` (docs/rules.md: zone 19 = State + CPAS parts) [I].
    KeyError/ValueError when the code cannot be priced."""
    entry = nomenclature.lookup(code)
    if entry is None:
        raise KeyError(code)
    cover = decision.cover(CareKind.DOCTOR)
    if cover is None:
        raise ValueError(f"decision {decision.carmed_number} has no doctor cover")
    price = nomenclature.price(entry.code, patient, kind, day, False)
    state, cpas, own = split(price.reimbursement, price.patient_fee, decision.state_refund, cover)
    return Prices(int((state + cpas) * 100), int(own * 100))


def _dmy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


class MediprimaInvoices:
    """The checks of one MediPrima file; `attestations(ssin)` reads the stored AMU attestations
    (asked once per beneficiary and file)."""

    def __init__(
        self, population: Population, attestations: Callable[[str], AmuAttestations]
    ) -> None:
        self.population = population
        self._attestations = attestations
        self._held: dict[str, AmuAttestations] = {}

    def _attested(self, ssin: str) -> AmuAttestations:
        if ssin not in self._held:
            if len(self._held) >= 10_000:  # bounded on huge files
                self._held.clear()
            self._held[ssin] = tuple(self._attestations(ssin))
        return self._held[ssin]

    def beneficiary(self, ssin: str) -> Finding | None:
        """Record 20 zone 8: known to MediPrima (a CPAS decision) or 200820."""
        patient = self.population.find(ssin)
        if patient is None or not patient.cpas_decisions:
            return ("200820", "8", f"{ssin}: no CPAS decision in MediPrima")
        return None

    def record25(self, ssin: str, record: Record25, day: date | None) -> list[Finding]:
        """Record 25 against the decision of the invoice's first service `day` (or the latest)."""
        patient = self.population.find(ssin)
        if patient is None or not patient.cpas_decisions:
            return []  # reported once, on record 20
        found: list[Finding] = []
        if record.beneficiary[2:] != ssin:
            found.append(("250812", "8", f"{record.beneficiary} vs record 20 00{ssin}"))
        decision = patient_decision(patient, day) if day is not None else None
        decision = decision or max(patient.cpas_decisions, key=lambda d: d.start)
        numbers = {d.carmed_number for d in patient.cpas_decisions}
        if record.card_number.lstrip("0") not in {n.lstrip("0") for n in numbers}:
            found.append(("255620", "56", f"card {record.card_number} is not this patient's"))
        elif record.card_version.lstrip("0") != str(decision.version):
            found.append(("255920", "59", f"version {record.card_version}, MediPrima has "
                                          f"{decision.version}"))  # fmt: skip
        if record.cpas_cbe.lstrip("0") != decision.cpas.cbe.lstrip("0"):
            found.append(("253820", "38", f"CPAS {record.cpas_cbe}, decision {decision.cpas.cbe}"))
        urgent = "1" if decision.medical_urgency else "0"
        if record.urgent_aid != urgent:
            found.append(("251220", "12", f"{record.urgent_aid!r}, MediPrima says {urgent}"))
        return found

    def service(
        self,
        ssin: str,
        code: str,
        day: date,
        provider_nihii: str,
        units: int,
        amount: int,
        share: int,
    ) -> Finding | None:
        """The finding on one record 50 (`amount`/`share` in cents for `units` units)."""
        patient = self.population.find(ssin)
        if patient is None or not patient.cpas_decisions:
            return None  # record 20 says it (200820)
        if patient.death_date is not None and patient.death_date <= day:
            return ("500549", "5", f"died {patient.death_date}")
        decision = patient_decision(patient, day)
        if decision is None or not decision.valid_on(day):
            return ("500540", "5", f"no CPAS decision valid on {day}")
        problem = _not_covered(decision, day)
        if problem is not None:
            return ("500540", "5", problem)
        if not decision.allows_provider(CareKind.DOCTOR, provider_nihii):
            return ("501540", "15", f"{provider_nihii} is not on the doctors' list of decision "
                                    f"{decision.carmed_number}")  # fmt: skip
        if decision.medical_urgency and (
            uma_attestation_for(decision, day, day, self._attested(ssin)) is None
        ):
            # CAAMI checks the AMU attestation before paying (S-MEDIPRIMA).
            return ("500540", "5", f"urgent medical aid only: no AMU attestation covers {day}")
        provider = self.population.provider(provider_nihii)
        if provider is None:
            return None  # unknown provider: priced as nobody, other rules speak
        try:
            unit = prices(code, patient, provider.kind, day, decision)
        except (KeyError, ValueError):
            return None
        if amount != unit.amount * units:
            return ("501940", "19", f"{amount} cents, CAAMI pays {unit.amount * units}")
        if share != unit.share * units:
            return ("502741", "27", f"{share} cents, the patient part is {unit.share * units}")
        return None


def _not_covered(decision: CpasDecision, day: date) -> str | None:
    """Why the decision gives no doctor care on `day`, or None."""
    if day < MEDIPRIMA_GP_OPEN:
        return f"care before {_dmy(MEDIPRIMA_GP_OPEN)}: bill the CPAS"
    if not decision.active_on(day):
        return f"decision {decision.carmed_number} suspended"
    cover = decision.cover(CareKind.DOCTOR)
    if cover is None:
        return f"decision {decision.carmed_number} covers no doctor care"
    if not cover.covers(day):
        return f"doctor cover of decision {decision.carmed_number} not active on {day}"
    return None
