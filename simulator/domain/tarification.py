"""eTar: the insurer's answer to a tarification consultation (domain-rules section 4).

Plain data in, plain data out. The codec turns the KMEHR RetrieveTransactionRequest into a
`TarificationQuery` (strings exactly as read, None when absent); the rules here validate them,
look the patient up in the population, and price each claimed code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.domain.population import Patient


@dataclass(frozen=True)
class TariffClaim:
    code: str  # nomenclature code as sent (CD-NIHDI), not yet validated
    tooth: str | None = None  # CD-ISO-3950, dentists
    related_service: str | None = None  # CD-NIHDI-RELATEDSERVICE


@dataclass(frozen=True)
class TarificationQuery:
    request_id: str | None  # request/id S=ID-KMEHR: "<nihii11>.<timestamp>"
    author_nihii: str | None  # request/author/hcparty/id S=ID-HCPARTY
    author_type: str | None  # CD-HCPARTY: persphysician | persdentist | guardpost
    patient_ssin: str | None  # select/patient/id S=ID-PATIENT
    encounter_date: str | None  # item[encounterdatetime]/content/date, as sent (ISO date)
    claims: tuple[TariffClaim, ...]
    gmd_manager_nihii: str | None = None  # item[gmdmanager]/content/hcparty/id
    justification: str | None = None  # CD-MYCARENET-JUSTIFICATION
    transaction_type: str | None = "tariff"  # CD-TRANSACTION-MYCARENET
    # NIHII of the CareProvider in the SOAP CommonInput and SSIN routing, to check coherence (155)
    envelope_provider_nihii: str | None = None
    envelope_patient_ssin: str | None = None


@dataclass(frozen=True)
class RuleError:
    """One CD-ERROR-MYCARENET error: its code, the catalogue path it is about, FR/NL texts."""

    code: str
    path: str
    message_fr: str
    message_nl: str


@dataclass(frozen=True)
class TariffLine:
    code: str
    fee: Decimal  # official fee
    reimbursement: Decimal  # insurer's part
    patient_fee: Decimal  # personal share (ticket modérateur)
    approximate: bool  # the amounts come from an approximate table (domain-rules 7)
    financial_contract: str = ""  # payment-commitment number, assigned by the service


@dataclass(frozen=True)
class TarificationOutcome:
    errors: tuple[RuleError, ...] = ()
    lines: tuple[TariffLine, ...] = ()
    patient: Patient | None = None  # the patient the answer is about, when known
    insurer: str | None = None  # 3-digit union code of the answering insurer
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return not self.errors
