"""A reference vendor client for the conformance harness, built on the package's client.

`mycarenet-sim conformance run --suite etar -- mycarenet-sim example reference-client` runs it
once per case (`python -m simulator.examples.reference_client` is the same program). It reads
what the harness puts in the environment:

    MYCARENET_SIM_URL, MYCARENET_SIM_CA             base URL and the CA to trust
    MYCARENET_SIM_KEYSTORE(_PASSWORD)               the provider's PKCS#12 keystore
    MYCARENET_SIM_CASE_FILE                         the case: action, patient, provider, params
    MYCARENET_SIM_NOW                               the business date and time the case starts on
    MYCARENET_SIM_OTHER_GP_KEYSTORE                 a colleague's keystore (same password)

and does what well-behaved billing software does for the case's `action`: check insurability
before an eAttest, never resend a refused attestation or cancellation, confirm every message it
gets from GenAsync, post one eFact file a day with a new sending number, never bill a service
older than two months, send a corrected file after a 920099, and never post an accepted file
again (after a rejected record: check insurability when the patient was not in order or
unknown; a corrected service would go in a later file).

`Behaviour` lists the rules it follows; `broken_client.py` breaks them one at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import io
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from simulator.client import ConnectorClient, ServiceFault
from simulator.client import eattest as eattest_client
from simulator.client import genasync as genasync_client
from simulator.client import mediprima as mediprima_client
from simulator.codecs.eattest import ServiceLine
from simulator.domain.memberdata import (
    INSURABILITY,
    REGISTRATION_AT_MUTUALITY_FORMAT,
    FacetRequest,
)
from simulator.domain.population import Population, build_population
from simulator.efact.block import parse_block
from simulator.efact.checks import months_before
from simulator.efact.generator import Spec, generate
from simulator.efact.parser import parse as efact_parse

Clock = Callable[[], datetime]


@dataclass
class Behaviour:
    """What a conforming client does; each flag off is one deliberate fault."""

    check_insurability_first: bool = True  # MemberData before an eAttest
    resend_refused: bool = False  # a refused attestation is never sent again as is
    # refusal codes after which a cancellation is sent again as it was (conforming: none)
    resend_refused_cancellation: frozenset[str] = frozenset()
    confirm_after_get: bool = True  # every message taken from GenAsync is confirmed
    one_efact_file_a_day: bool = True  # no second invoice file the same day
    # 920099 codes after which no corrected file is sent (a conforming client: none)
    uncorrected_refusals: frozenset[str] = frozenset()
    # 920098 record codes after which the accepted file is posted again (conforming: none)
    resend_after_rejection: frozenset[str] = frozenset()
    hold_old_services: bool = True  # services older than two months are not billed
    new_sending_number: bool = True  # every file gets a new sending number (R10 Z7)
    sign_correctly: bool = True  # WS-Security with the keystore's key (checked on UMA sends)
    seal_memberdata: bool = True  # MemberData requests sealed for the insurer


@dataclass
class Case:
    data: dict[str, Any]
    now: Clock

    @property
    def action(self) -> str:
        return str(self.data["action"])

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.data.get("params") or {})

    @property
    def ssin(self) -> str:
        return str(self.data["patient"]["ssin"])

    @property
    def provider_nihii(self) -> str:
        return str(self.data["provider"]["nihii"])

    def today(self) -> date:
        return date.fromisoformat(self.data["date"])

    def day(self, key: str = "day_offset") -> date:
        return self.today() + timedelta(days=int(self.params.get(key, 0)))

    def codes(self) -> list[str]:
        return [str(c) for c in self.params.get("codes", ["101032"])]

    def patient(self) -> Any:
        """What the eAttest KMEHR needs about the patient (from the case file)."""
        p = self.data["patient"]
        return SimpleNamespace(
            ssin=p["ssin"],
            first_name=p.get("first_name", "Unknown"),
            last_name=p.get("last_name", "Patient"),
            sex=p.get("sex", "female"),
        )

    def gmd_manager(self) -> str | None:
        wanted = self.params.get("gmd_manager")
        if wanted == "self":
            return self.provider_nihii
        if wanted == "holder":
            holder = self.data["patient"].get("dmg_holder")
            return str(holder) if holder else None
        if wanted == "other":
            return str(self.data["other_gp"])
        return str(wanted) if wanted else None


def log(message: str) -> None:
    print(message, flush=True)


def _population(case: Case) -> Population:
    """The simulator's synthetic world, rebuilt from what the case file says of it."""
    world = case.data["population"]
    return _world(int(world["seed"]), int(world["patients"]), int(world["providers"]),
                  date.fromisoformat(world["built_on"]))  # fmt: skip


@functools.cache  # a case may build several files: the world is built once
def _world(seed: int, patients: int, providers: int, built_on: date) -> Population:
    return build_population(seed=seed, patients=patients, providers=providers, today=built_on)


# -- eTar ---------------------------------------------------------------------------------------


async def etar_consult(client: ConnectorClient, case: Case, behaviour: Behaviour) -> None:
    try:
        result = await client.tarification(
            case.ssin, case.codes(), case.day(), gmd_manager=case.gmd_manager()
        )
    except ServiceFault as fault:
        log(f"eTar refused: {fault}")
        return
    if result.errors:
        log(f"eTar rejection: {[e.code for e in result.errors]} (shown to the user, not resent)")
        return
    for line in result.lines:
        log(f"eTar: {line}")


# -- MemberData ---------------------------------------------------------------------------------


def _facets(case: Case) -> list[FacetRequest]:
    wanted = case.params.get("facets")
    if not wanted:
        request_type = case.params.get("request_type", "information")
        contact_type = case.params.get("contact_type", "other")
        return [FacetRequest(INSURABILITY, (("requestType", request_type),
                                            ("contactType", contact_type)))]  # fmt: skip
    facets = []
    for facet in wanted:
        dimensions = tuple((str(k), str(v)) for k, v in (facet.get("dimensions") or {}).items())
        facets.append(FacetRequest(str(facet["id"]), dimensions))
    return facets


async def memberdata_consult(client: ConnectorClient, case: Case, behaviour: Behaviour) -> None:
    subject, options = case.ssin, {}
    if case.params.get("subject") == "registration":
        patient = case.data["patient"]
        subject = f"{patient['registration_number']}@{patient['mutuality']}"
        options["subject_format"] = REGISTRATION_AT_MUTUALITY_FORMAT
    elif case.params.get("subject") == "bad-check-digit":
        subject = case.ssin[:-1] + str((int(case.ssin[-1]) + 1) % 10)
    start = case.day("start_offset")
    end = case.today() + timedelta(days=int(case.params.get("end_offset", 0)))
    try:
        result = await client.member_data(
            subject, start, end, facets=_facets(case), sealed=behaviour.seal_memberdata, **options
        )
    except ServiceFault as fault:
        log(f"MemberData refused: {fault}")
        return
    log(f"MemberData: {result.status} {result.detail_codes} {len(result.blocks)} block(s)")
    if case.params.get("also_by_registration") and result.accepted:
        patient = case.data["patient"]
        again = await client.member_data(
            f"{patient['registration_number']}@{patient['mutuality']}", start, end,
            facets=_facets(case), subject_format=REGISTRATION_AT_MUTUALITY_FORMAT,
        )  # fmt: skip
        log(f"MemberData by registration number: {again.status}")


async def _insurable(client: ConnectorClient, case: Case, behaviour: Behaviour) -> bool:
    """Insurability today, as the software checks it before attesting."""
    today = case.today()
    try:
        result = await client.member_data(
            case.ssin, today, today + timedelta(days=1), sealed=behaviour.seal_memberdata
        )
    except ServiceFault as fault:
        log(f"insurability check refused: {fault}")
        return False
    log(f"insurability: {result.status} {result.detail_codes}")
    return result.accepted


# -- eAttest ------------------------------------------------------------------------------------


async def eattest_send(client: ConnectorClient, case: Case, behaviour: Behaviour) -> None:
    if behaviour.check_insurability_first and not await _insurable(client, case, behaviour):
        log("not insurable today: no eAttest, a paper attestation instead")
        return
    lines = [
        ServiceLine(code=code, day=case.day(), amount=Decimal("30.00"),
                    gmd_manager=case.gmd_manager())
        for code in case.codes()
    ]  # fmt: skip
    reply = await _send(client, case, lines)
    if reply is None:
        return
    if reply.result.errors:
        log(f"eAttest refused: {reply.result.codes} (shown to the user)")
        if behaviour.resend_refused:
            await _send(client, case, lines)
        return
    number = reply.result.invoicing_number or ""
    log(f"eAttest accepted: {number}")
    if case.params.get("repeat"):  # the user attests the same consultation again
        again = await _send_again(client, case, lines)
        if again is not None:
            log(f"second attestation: {again.result.codes or 'accepted'}")
    reason = case.params.get("cancel_reason")
    if reason:
        cancelled = await _cancel(client, case, number, str(reason))
        log(f"cancellation: {cancelled.result.codes or 'accepted'}")
        if cancelled.result.errors:
            log("cancellation refused: shown to the user, not sent again as it was")
            if set(cancelled.result.codes) & behaviour.resend_refused_cancellation:
                again = await _cancel(client, case, number, str(reason))
                log(f"cancellation sent again: {again.result.codes or 'accepted'}")
        elif case.params.get("cancel_twice"):
            again = await _cancel(client, case, number, str(reason))
            log(f"second cancellation: {again.result.codes}")


async def _send_again(client: ConnectorClient, case: Case, lines: list[ServiceLine]) -> Any:
    """A second contact the same day: the user clicks again, or (`repeat_exemption: "01"`)
    declares a distinct contact (NIHDI-CLAIM-EXEMPTION, R50 Z23), or (`repeat_by: other_gp`)
    a colleague sees the patient too and attests from their own keystore."""
    exemption = case.params.get("repeat_exemption")
    if exemption is not None:
        lines = [dataclasses.replace(line, exemption=str(exemption)) for line in lines]
    if case.params.get("repeat_by") != "other_gp":
        return await _send(client, case, lines)
    async with _colleague(case) as colleague:
        return await _send(colleague, case, lines)


def _colleague(case: Case) -> ConnectorClient:
    """A client with the keystore of the case file's other GP (same password)."""
    env = os.environ
    return ConnectorClient(
        env["MYCARENET_SIM_URL"],
        Path(env["MYCARENET_SIM_OTHER_GP_KEYSTORE"]),
        env["MYCARENET_SIM_KEYSTORE_PASSWORD"],
        ca_cert=Path(env["MYCARENET_SIM_CA"]),
        now=case.now,
    )


async def _cancel(client: ConnectorClient, case: Case, number: str, reason: str) -> Any:
    """Cancel `number`: as the case's provider, or as the case file's other GP (`cancel_by:
    other_gp`, the keystore the harness gives for it), for the case's patient or, with
    `cancel_patient: other`, for the wrong patient (the user picked another file)."""
    patient = case.patient() if case.params.get("cancel_patient") != "other" else _other(case)
    if case.params.get("cancel_by") != "other_gp":
        return await eattest_client.cancel_attestation(
            client, patient, number, reason, now=case.now()
        )
    async with _colleague(case) as colleague:
        return await eattest_client.cancel_attestation(
            colleague, patient, number, reason, now=case.now()
        )


def _other(case: Case) -> Any:
    """Another insured patient of the same synthetic world as the case's."""
    population = _population(case)
    other = next(p for p in population.patients if p.ssin != case.ssin and p.periods)
    return SimpleNamespace(ssin=other.ssin, first_name=other.first_name,
                           last_name=other.last_name, sex=other.sex)  # fmt: skip


async def _send(client: ConnectorClient, case: Case, lines: list[ServiceLine]) -> Any:
    try:
        return await eattest_client.send_attestation(
            client, case.patient(), lines, now=case.now(), transaction_date=case.day()
        )
    except ServiceFault as fault:
        log(f"eAttest fault: {fault}")
        return None


# -- MediPrima ----------------------------------------------------------------------------------

# Before this day care under a MediPrima decision may still be billed to the CPAS directly.
MEDIPRIMA_MANDATORY = date(2025, 11, 1)


async def mediprima_bill(client: ConnectorClient, case: Case, behaviour: Behaviour) -> None:
    """Consult the CPAS decision, attest urgent medical aid when the decision needs it, then
    ask CAAMI the tariff. A decision taken before 1 September 2025 may keep the old path
    (docs/rules.md, MediPrima): this client then bills the CPAS, as a GP's habit would."""
    day = case.day()
    consulted = await mediprima_client.consult(client, case.ssin, reference_date=day,
                                               now=case.now())  # fmt: skip
    log(f"MediPrima consultation: {consulted.status} {consulted.reason_codes}")
    if "OLD_PATH" in consulted.reason_codes:
        log("decision on the old path: bill the CPAS, not MediPrima")
        return
    if day < MEDIPRIMA_MANDATORY and case.params.get("bill_cpas_during_transition"):
        log("transition period: billed to the CPAS")
        return
    if "URGENT_MEDICAL_AID_ATTESTATION_REQUIRED" in consulted.reason_codes:
        sent = await mediprima_client.send_uma(client, case.ssin, day, now=case.now())
        log(f"urgent medical aid attestation: {sent.status} {sent.error_codes}")
    result = await mediprima_client.tarification(client, case.ssin, case.codes(), day,
                                                 now=case.now())  # fmt: skip
    log(f"MediPrima tarification: errors {[e.code for e in result.errors]}")


# -- eFact ---------------------------------------------------------------------------------------

EFACT_MAILBOX = "hcpfac"
EFACT_INSURER = "300"
EFACT_POLLS = 5
# Services older than this are not billed any more: the insurer still pays them but flags
# E500503 and the provider owes an administrative fine (S-FAQ-INAMI, docs/rules.md "eFact"),
# unless the insurer rejects them (R500503): the software holds them back.
BILLING_WINDOW_MONTHS = 2
# Per-record rejections after which the software checks the patient's insurability before
# billing the service again (domain-rules 6.5: "check MDA first").
INSURABILITY_REJECTIONS = frozenset({"500540", "500640", "500742"})


@dataclass(frozen=True)
class EfactAnswers:
    """What the mailbox gave for one posted file."""

    names: tuple[str, ...]  # MessageNames taken (HCPFAC receipt/acceptance, HCPVWR, HCPAFD)
    file_codes: tuple[str, ...]  # codes of a 920099 (whole file refused)
    record_codes: tuple[tuple[str, str], ...]  # (beneficiary NISS, code) rejected in a 920098

    @property
    def refused(self) -> bool:
        return "HCPVWR" in self.names


def _invoice_file(case: Case, sending_number: int, error_rate: float) -> bytes:
    """A 920000 of the case's size, built from the same synthetic world as the simulator's."""
    population = _population(case)
    out = io.BytesIO()
    faults = tuple(case.params.get("faults", ["amount"]))
    # The case's own patient is billed too when the case says so (e.g. not in order: R500540).
    patients = (case.ssin,) if case.params.get("bill_case_patient") else ()
    # One file per doctor and insurer: the case's GP bills the patients of one union.
    spec = Spec(invoices=int(case.params.get("invoices", 3)), error_rate=error_rate,
                today=case.today(), insurer=_efact_insurer(case), sending_number=sending_number,
                faults=faults, seed=sending_number, patients=patients,
                doctor=case.provider_nihii)  # fmt: skip
    generate(out, population, spec)
    return out.getvalue()


def _efact_insurer(case: Case) -> str:
    """The union the file goes to: the case patient's when billed, else EFACT_INSURER."""
    if case.params.get("bill_case_patient"):
        return str(case.data["patient"].get("insurer") or EFACT_INSURER)
    return EFACT_INSURER


def _too_old_services(case: Case, content: bytes) -> int:
    """How many services of the file are older than the billing window on the case's day."""
    oldest = months_before(case.today(), BILLING_WINDOW_MONTHS).strftime("%Y%m%d")
    _, records = efact_parse(content)
    return sum(1 for r in records if r.type == "50" and r.zone("5") < oldest)


async def _post_file(client: ConnectorClient, case: Case, content: bytes) -> None:
    header, _ = efact_parse(content)
    await genasync_client.post(
        client, EFACT_MAILBOX, content, message_name="HCPFAC", destination_io=_efact_insurer(case),
        input_reference=header.zone200("204"),
    )  # fmt: skip
    log(f"eFact file posted (sending number {header.zone200('204')})")


def _read_answer(content: bytes) -> tuple[str, list[tuple[str, str]]]:
    """The message type of an insurer's answer and its (beneficiary, code) errors."""
    header, records = efact_parse(content)
    if header.message_type == "920099":  # zone 311: 01 blocking error, 02 too many errors
        log(f"920099: zone 310 = {header.zone300('310')}, zone 311 = {header.zone300('311')}")
    errors: list[tuple[str, str]] = []
    beneficiary = ""
    for record in records:
        if record.type == "50":
            beneficiary = record.zone("8a")[-11:]  # "00" + NISS
        if record.error_block:
            errors += [(beneficiary, e.code) for e in parse_block(record.error_block).errors]
    return header.message_type, errors


async def _collect(client: ConnectorClient, case: Case, behaviour: Behaviour) -> EfactAnswers:
    """Poll the mailbox until the file's fate is known; every message taken is confirmed."""
    names: list[str] = []
    file_codes: list[str] = []
    record_codes: list[tuple[str, str]] = []
    for _ in range(EFACT_POLLS):
        found = await genasync_client.get(client, EFACT_MAILBOX)
        for message in found.messages:
            names.append(message.detail.message_name)
            kind, errors = _read_answer(message.detail.content)
            if kind == "920099":
                file_codes += [code for _, code in errors]
            elif kind == "920098":
                record_codes += errors
        if behaviour.confirm_after_get and (found.messages or found.tacks):
            await genasync_client.confirm(
                client, EFACT_MAILBOX,
                references=[m.detail.reference or "" for m in found.messages],
                tack_contents=[t.tack.content for t in found.tacks],
            )  # fmt: skip
        if "HCPAFD" in names or "HCPVWR" in names:
            break
    log(f"eFact answers: {names}; file refused for {file_codes}; records {record_codes}")
    return EfactAnswers(tuple(names), tuple(file_codes), tuple(record_codes))


async def _after_record_rejections(
    client: ConnectorClient, case: Case, behaviour: Behaviour, answers: EfactAnswers
) -> bool:
    """React to the rejected records of an accepted file; True when the file is resent (a
    fault: the accepted file is never posted again, corrected services go in a later file)."""
    codes = {code for _, code in answers.record_codes}
    if codes & behaviour.resend_after_rejection:
        return True
    for ssin in sorted({s for s, code in answers.record_codes if code in INSURABILITY_REJECTIONS}):
        today = case.today()
        try:
            result = await client.member_data(
                ssin, today, today + timedelta(days=1), sealed=behaviour.seal_memberdata
            )
            log(f"insurability of {ssin} after the rejection: {result.status}")
        except ServiceFault as fault:
            log(f"insurability check refused: {fault}")
    if codes:
        log(f"rejected records {sorted(codes)}: corrected in a later file if at all, not resent")
    return False


async def efact_bill(client: ConnectorClient, case: Case, behaviour: Behaviour) -> None:
    sending_number = int(case.params.get("sending_number", 1))
    error_rate = float(case.params.get("error_rate", 0))
    content = _invoice_file(case, sending_number, error_rate)
    old = _too_old_services(case, content)
    if old and behaviour.hold_old_services:
        log(f"{old} service(s) older than {BILLING_WINDOW_MONTHS} months held back (not billed)")
        content = _invoice_file(case, sending_number, 0.0)
    await _post_file(client, case, content)
    answers = await _collect(client, case, behaviour)
    if answers.refused and not set(answers.file_codes) & behaviour.uncorrected_refusals:
        # 920099: the whole file was refused; correct it and send it under a new number.
        if behaviour.new_sending_number:
            sending_number += 1
        await _post_file(client, case, _invoice_file(case, sending_number, 0.0))
        await _collect(client, case, behaviour)
    elif await _after_record_rejections(client, case, behaviour, answers):
        await _post_file(client, case, content)
        await _collect(client, case, behaviour)
    if case.params.get("second_batch"):  # the user has more invoices ready the same day
        if behaviour.one_efact_file_a_day:
            log("one eFact file a day: the second batch waits for tomorrow")
            return
        await _post_file(client, case, _invoice_file(case, sending_number + 1, 0.0))
        await _collect(client, case, behaviour)


# -- running a case -----------------------------------------------------------------------------

Action = Callable[[ConnectorClient, Case, Behaviour], Awaitable[None]]
ACTIONS: dict[str, Action] = {
    "etar.consult": etar_consult,
    "memberdata.consult": memberdata_consult,
    "eattest.send": eattest_send,
    "mediprima.bill": mediprima_bill,
    "efact.bill": efact_bill,
}


def register(name: str) -> Callable[[Action], Action]:
    def add(action: Action) -> Action:
        ACTIONS[name] = action
        return action

    return add


def simulator_clock() -> Clock:
    """The business clock: the simulator's date at the start of the case, running with ours.
    It dates services and references; signatures use the real clock, like any vendor's."""
    start = os.environ.get("MYCARENET_SIM_NOW")
    if not start:
        return lambda: datetime.now(UTC)
    offset = datetime.fromisoformat(start) - datetime.now(UTC)
    return lambda: datetime.now(UTC) + offset


async def run(behaviour: Behaviour) -> int:
    env = os.environ
    now = simulator_clock()
    case = Case(json.loads(Path(env["MYCARENET_SIM_CASE_FILE"]).read_text("utf-8")), now)
    action = ACTIONS.get(case.action)
    if action is None:
        log(f"this client does not know the action {case.action!r}")
        return 3
    log(f"case {case.data['case']}: {case.action} for {case.ssin}")
    async with ConnectorClient(
        env["MYCARENET_SIM_URL"],
        Path(env["MYCARENET_SIM_KEYSTORE"]),
        env["MYCARENET_SIM_KEYSTORE_PASSWORD"],
        ca_cert=Path(env["MYCARENET_SIM_CA"]),
        now=now,
    ) as client:
        if not behaviour.sign_correctly:
            _spoil_signatures(client)
        await action(client, case, behaviour)
    return 0


def _spoil_signatures(client: ConnectorClient) -> None:
    """Sign urgent-medical-aid attestations with a fresh key instead of the certificate's (the
    token still names the certificate): the simulator must refuse them."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from simulator.security.pki import Identity

    wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    real = client.identity
    original_call = client.call

    async def call(path: str, soap_action: str | None, payload: Any) -> Any:
        if soap_action != mediprima_client.UMA_ACTION.format("send"):
            return await original_call(path, soap_action, payload)
        await client.token()  # the STS request is still signed with the right key
        client.identity = Identity(wrong, real.cert, real.chain)
        try:
            return await original_call(path, soap_action, payload)
        finally:
            client.identity = real

    client.call = call  # type: ignore[method-assign]


def main(behaviour: Behaviour | None = None) -> int:
    return asyncio.run(run(behaviour or Behaviour()))


if __name__ == "__main__":
    sys.exit(main())
