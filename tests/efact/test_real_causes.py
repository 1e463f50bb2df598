"""Every eFact code of the insurer FAQ from its real cause, no scenario forcing it
(docs/rules.md "eFact"): files written for patients of the world's situations go through the
insurer's processing in process (GenAsync keep_post, `received`, `advance`), and each code is
asserted where it appears: the record and its error block in the 920098 (or 920099), the zone
in the stored finding, and what the 920900 pays. The history across files and channels is the
insurer's ledger (`sim.ledger`)."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from simulator.codecs import genasync as codec
from simulator.config import Settings
from simulator.domain import nomenclature
from simulator.domain.identifiers import same_person
from simulator.domain.ledger_rules import Channel, LedgerService
from simulator.domain.population import Patient, Provider
from simulator.domain.tarification import TariffClaim, TarificationQuery, consult_tariff
from simulator.efact.block import parse_block
from simulator.efact.parser import parse
from simulator.efact.writer import (
    FINE_REMARK,
    FileHeader,
    Invoice,
    Service,
    write_invoice_file,
)
from simulator.runtime import Simulator
from simulator.scenarios import Scenario
from simulator.scenarios.loader import ScenarioError, load_scenario
from simulator.services import efact_processing as processing
from simulator.services import mailbox, tarification
from simulator.store import ledger

BOX = "hcpfac"
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("causes"), patients=600, providers=80, no_delay=True
    )
    simulator = Simulator.create(settings)
    zero = timedelta(0)
    processing.configure(simulator, processing.ProcessingConfig(zero, zero, zero))
    yield simulator
    simulator.close()


@pytest.fixture(autouse=True)
def _forget(sim: Simulator) -> Iterator[None]:
    """Each test starts from an empty ledger and the default scenario (two-month fine)."""
    for kind in (ledger.SERVICES, ledger.SOURCES, tarification.COMMITMENTS):
        for key, _ in sim.records.find(kind, prefix="", limit=1_000_000):
            sim.records.delete(kind, key)
    sim.replace_scenario(Scenario(name="default"))
    yield


@dataclass
class Answer:
    verdict: str  # 920098 or 920099
    blocks: dict[int, list[tuple[str, str]]]  # record index -> (letter, code) of the 920098/9
    zones: dict[tuple[int, str], str]  # (record index, code) -> zone, from the stored findings
    settled: dict[int, list[tuple[str, str]]] | None  # the 920900's blocks
    paid: int | None  # record 91 zone 412, accepted amount (cents)
    comments: dict[int, str]  # the 920098's block comments


def gp(sim: Simulator, index: int = 0) -> Provider:
    return sim.population.providers_of_kind("GP")[index]


def day(sim: Simulator, back: int) -> date:
    return sim.clock.today() - timedelta(days=back)


def priced(
    patient: Patient, provider: Provider, code: str, when: date, *, dmg: bool | None = None,
    **changes: Any,
) -> Service:
    """The service at the tariff (the DMG rate when the author holds the DMG, or `dmg`)."""
    holder = dmg if dmg is not None else bool(
        patient.dmg_holder and same_person(patient.dmg_holder, provider.nihii)
    )
    price = nomenclature.price(code[-6:], patient, provider.kind, when, holder)
    service = Service("0" + code[-6:], when, patient.ssin, provider.nihii,
                      int(price.reimbursement * 100), int(price.patient_fee * 100))  # fmt: skip
    return replace(service, **changes)


def invoice(patient: Patient, *services: Service, number: int = 1) -> Invoice:
    period = patient.period_on(services[0].day) or patient.periods[-1]
    sex = "1" if patient.sex == "male" else "2"
    return Invoice(patient.ssin, sex, period.mutuality, period.mutuality, number, services)


def file_of(sim: Simulator, third_party: str, *invoices: Invoice) -> bytes:
    number = next(_numbers)
    today = sim.clock.today()
    head = FileHeader(reference=f"{today:%Y%m%d}{number:06d}", sending_number=number,
                      third_party=third_party, created=today, year=today.year,
                      month=today.month)  # fmt: skip
    out = io.BytesIO()
    ordered = sorted(invoices, key=lambda i: i.destination)
    write_invoice_file(out, head, [replace(inv, number=n) for n, inv in enumerate(ordered, 1)])
    return out.getvalue()


def _blocks(content: bytes) -> tuple[dict[int, list[tuple[str, str]]], dict[int, str]]:
    _header, records = parse(content)
    found: dict[int, list[tuple[str, str]]] = {}
    comments: dict[int, str] = {}
    for record in records:
        if record.error_block:
            block = parse_block(record.error_block)
            if block.errors:
                found[record.index] = [(e.letter, e.code) for e in block.errors]
                comments[record.index] = block.comment
    return found, comments


def post(sim: Simulator, content: bytes, insurer: str, sender: str | None = None) -> Answer:
    """Post `content` to `insurer` as its third party (R10 Z14), process it at once."""
    reference = f"cause{next(_numbers)}"
    sender = sender or parse(content)[1].__next__().text[56:67]
    common = codec.CommonInput(
        is_test=True, origin=codec.Origin(None, "", ""), input_reference=reference
    )
    request = codec.PostRequest(common, codec.Blob(content, "HCPFAC"), None)
    mailbox.keep_post(sim, BOX, reference, sender, insurer, request)
    processing.received(sim, BOX, reference)
    processing.advance(sim, BOX)
    state = processing.file_state(sim, BOX, reference)
    assert state is not None and "problem" not in state, state
    answers: dict[str, bytes] = {}
    for stored in mailbox.waiting_messages(sim, BOX, sender):
        content_of = mailbox.message_of(sim, stored).detail.content
        answers[content_of[:6].decode()] = content_of
        sim.records.delete(mailbox.MESSAGES, stored.key)
    # The file rules (one file a day, sending numbers) are not what these tests are about.
    for key, _ in sim.records.find(processing.HISTORY, prefix="", limit=100_000):
        sim.records.delete(processing.HISTORY, key)
    verdict = "920098" if "920098" in answers else "920099"
    blocks, comments = _blocks(answers[verdict])
    zones = {(int(r["index"]), str(r["code"])): str(r["zone"]) for r in state["rejections"]}
    settled = paid = None
    if "920900" in answers:
        settled, _ = _blocks(answers["920900"])
        _h, records = parse(answers["920900"])
        paid = sum(int(r.zone("412")) for r in records if r.type == "91")
    return Answer(verdict, blocks, zones, settled, paid, comments)


# Record indexes of a one-invoice file: 1 = 10, 2 = 20, 3.. = the services, then 80, 90.


# -- 502255: the same consultation twice ---------------------------------------------------------


def test_502255_the_same_consultation_in_a_later_file(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("regular"), gp(sim)
    consultation = priced(patient, doctor, "101032", day(sim, 5))
    first = post(sim, file_of(sim, doctor.nihii, invoice(patient, consultation)), patient.insurer)
    assert (first.verdict, first.blocks) == ("920098", {})
    again = post(sim, file_of(sim, doctor.nihii, invoice(patient, consultation)), patient.insurer)
    assert again.blocks == {3: [("R", "502255")]}
    assert again.zones[(3, "502255")] == "22"  # record 50 zone 22: units
    assert again.settled == {3: [("R", "502255")]} and again.paid == 0


def test_502255_twice_in_one_invoice_the_second_only(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("regular"), gp(sim)
    consultation = priced(patient, doctor, "101032", day(sim, 6))
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, consultation, consultation)),
                  patient.insurer)  # fmt: skip
    assert answer.blocks == {4: [("R", "502255")]}
    assert answer.paid == consultation.amount  # the first is paid


def test_502255_attested_by_eattest_then_billed_by_efact(sim: Simulator) -> None:
    """eAttest records its accepted services in the ledger (services/eattest.py); eFact then
    refuses the same consultation. A distinct contact declared in R50 Z23 is not refused."""
    patient, doctor = sim.population.situation("regular"), gp(sim)
    when = day(sim, 7)
    sim.ledger.record([LedgerService(
        insurer=patient.insurer, patient=patient.ssin, code="101032", day=when,
        provider=doctor.nihii, channel=Channel.EATTEST, source="300-1-261123-0000001-00",
    )])  # fmt: skip
    consultation = priced(patient, doctor, "101032", when)
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, consultation)), patient.insurer)
    assert answer.blocks == {3: [("R", "502255")]}
    distinct = replace(consultation, exemption="01")
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, distinct)), patient.insurer)
    assert answer.blocks == {}


def test_only_the_accepted_services_go_in_the_ledger(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("regular"), gp(sim)
    good = priced(patient, doctor, "101032", day(sim, 8))
    wrong = priced(patient, doctor, "101076", day(sim, 9), amount=1)
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, good, wrong)), patient.insurer)
    assert answer.blocks == {4: [("R", "501940")]}
    kept = sim.ledger.find(patient.ssin, insurer=patient.insurer)
    assert [(s.code, s.day, s.channel) for s in kept] == [("101032", good.day, Channel.EFACT)]
    # A file refused as a whole (920099) leaves nothing in the ledger.
    other = sim.population.situation("bim-dmg")
    refused = post(sim, file_of(sim, doctor.nihii, invoice(patient, good),
                                invoice(other, priced(other, doctor, "101032", day(sim, 8)))),
                   "900")  # fmt: skip
    assert refused.verdict == "920099"
    assert len(sim.ledger.find(other.ssin)) == 0


# -- 500444, 500447, 502258, 500415: the constraints table ----------------------------------------


def test_500444_a_visit_the_day_of_a_consultation(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("regular"), gp(sim)
    when = day(sim, 10)
    services = (priced(patient, doctor, "101032", when), priced(patient, doctor, "103132", when))
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, *services)), patient.insurer)
    assert answer.blocks == {4: [("R", "500444")]}
    assert answer.zones[(4, "500444")] == "4"


def _dental(code: str, patient: Patient, dentist: Provider, when: date, tooth: str = "") -> Service:
    if nomenclature.lookup(code) is not None:
        return priced(patient, dentist, code, when, tooth=tooth)
    # Codes outside the nomenclature table: not priced, so any amount passes the tariff.
    return Service(code, when, patient.ssin, dentist.nihii, 5000, 0, tooth=tooth)


def test_500447_the_annual_oral_exam_twice_in_a_year(sim: Simulator) -> None:
    patient = sim.population.situation("child")
    dentist = sim.population.providers_of_kind("DENTIST")[0]
    exam = _dental("0371571", patient, dentist, day(sim, 30))
    first = post(sim, file_of(sim, dentist.nihii, invoice(patient, exam)), patient.insurer)
    assert first.blocks == {}
    again = replace(exam, day=day(sim, 2))
    answer = post(sim, file_of(sim, dentist.nihii, invoice(patient, again)), patient.insurer)
    assert answer.blocks == {3: [("R", "500447")]} and answer.zones[(3, "500447")] == "4"


def test_502258_a_tooth_extracted_twice(sim: Simulator) -> None:
    patient = sim.population.situation("regular")
    dentist = sim.population.providers_of_kind("DENTIST")[0]
    extraction = _dental("0303166", patient, dentist, day(sim, 20), tooth="36")
    other_tooth = replace(extraction, tooth="37", day=day(sim, 3))
    post(sim, file_of(sim, dentist.nihii, invoice(patient, extraction)), patient.insurer)
    again = replace(extraction, day=day(sim, 3))
    answer = post(sim, file_of(sim, dentist.nihii, invoice(patient, again, other_tooth)),
                  patient.insurer)  # fmt: skip
    assert answer.blocks == {3: [("R", "502258")]} and answer.zones[(3, "502258")] == "22"


def test_500415_a_prosthesis_without_its_stages_then_with_them(sim: Simulator) -> None:
    patient = sim.population.situation("senior")
    dentist = sim.population.providers_of_kind("DENTIST")[0]
    placement = _dental("0307053", patient, dentist, day(sim, 2))
    alone = post(sim, file_of(sim, dentist.nihii, invoice(patient, placement)), patient.insurer)
    assert alone.blocks == {3: [("R", "500415")]} and alone.zones[(3, "500415")] == "4"
    stages = (_dental("0307016", patient, dentist, day(sim, 20)),
              _dental("0307031", patient, dentist, day(sim, 10)))  # fmt: skip
    staged = post(sim, file_of(sim, dentist.nihii, invoice(patient, *stages, placement)),
                  patient.insurer)  # fmt: skip
    assert staged.blocks == {}


# -- the tariff: 501940, 502742, DMG and G notion (504940, 504913) --------------------------------


def test_the_dmg_rate_of_a_g_notion_is_accepted_and_without_it_501940_502741(
    sim: Simulator,
) -> None:
    """eTar quotes the DMG rate with `gmdmanager` = the holder; billed with R50 Z16 = 4 and
    the holder in Z49 the same amounts are right. Without the G notion they are not."""
    patient = sim.population.situation("regular-dmg")
    holder = sim.population.provider(patient.dmg_holder or "")
    assert holder is not None
    doctor = next(p for p in sim.population.providers_of_kind("GP") if p.nihii[:8] != holder.nihii[:8])
    when = day(sim, 4)
    query = TarificationQuery(
        request_id=f"{doctor.nihii}.20261123000000", author_nihii=doctor.nihii,
        author_type="persphysician", patient_ssin=patient.ssin,
        encounter_date=when.isoformat(), claims=(TariffClaim("101032"),),
        gmd_manager_nihii=holder.nihii,
    )  # fmt: skip
    (line,) = consult_tariff(query, sim.population, sim.clock.today()).lines
    quoted = Service("0101032", when, patient.ssin, doctor.nihii, int(line.reimbursement * 100),
                     int(line.patient_fee * 100), norm="4", auxiliary=holder.nihii)  # fmt: skip
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, quoted)), patient.insurer)
    assert answer.blocks == {}
    plain = replace(quoted, norm="1", auxiliary="", day=day(sim, 3))
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, plain)), patient.insurer)
    # Every finding of the record: the amount (too high without DMG) and the share (too low).
    assert answer.blocks == {3: [("R", "501940"), ("R", "502741")]}
    assert (answer.zones[(3, "501940")], answer.zones[(3, "502741")]) == ("19", "27")


def test_504940_the_g_notion_names_a_gp_who_does_not_hold_the_dmg(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("regular"), gp(sim)  # no DMG at all
    named = replace(priced(patient, doctor, "101032", day(sim, 4)), norm="4",
                    auxiliary=gp(sim, 1).nihii)  # fmt: skip
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, named)), patient.insurer)
    assert answer.blocks == {3: [("R", "504940")]} and answer.zones[(3, "504940")] == "49"
    empty = replace(named, auxiliary="", day=day(sim, 3))
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, empty)), patient.insurer)
    assert answer.blocks == {3: [("R", "504913")]}


def test_502742_share_too_high_with_501940_all_findings_of_the_record(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("regular"), gp(sim)
    right = priced(patient, doctor, "101032", day(sim, 4))
    high = replace(right, share=right.share + 200)
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, high)), patient.insurer)
    assert answer.blocks == {3: [("R", "502742")]} and answer.zones[(3, "502742")] == "27"
    both = replace(right, share=right.share + 200, amount=right.amount - 200, day=day(sim, 3))
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, both)), patient.insurer)
    assert answer.blocks == {3: [("R", "501940"), ("R", "502742")]}


# -- 514225 and 501920: eTar's payment commitments in record 51 -----------------------------------


def _commitment(sim: Simulator, patient: Patient, doctor: Provider, when: date) -> str:
    query = TarificationQuery(
        request_id=f"{doctor.nihii}.20261123000000", author_nihii=doctor.nihii,
        author_type="persphysician", patient_ssin=patient.ssin,
        encounter_date=when.isoformat(), claims=(TariffClaim("101032"),),
    )  # fmt: skip
    outcome, commitments = tarification._with_commitments(
        sim, consult_tariff(query, sim.population, sim.clock.today()), query
    )
    asyncio.run(tarification._keep_commitments(sim, commitments))  # as eTar stores them
    return outcome.lines[0].financial_contract


def test_514225_a_commitment_number_etar_never_gave_with_501940_and_502742(
    sim: Simulator,
) -> None:
    """The FAQ: 501940, 502742 and 514225 often come together. The 51 keeps its own code
    (not 510119) and its 50 is not rejected for it."""
    patient, doctor = sim.population.situation("regular"), gp(sim)
    right = priced(patient, doctor, "101032", day(sim, 4))
    unknown = replace(right, commitment="3002611239999999")
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, unknown)), patient.insurer)
    assert answer.blocks == {4: [("R", "514225")]} and answer.zones[(4, "514225")] == "42"
    assert answer.paid == right.amount  # the service itself is right: paid
    wrong = replace(unknown, amount=right.amount + 300, share=right.share + 300,
                    day=day(sim, 3))  # fmt: skip
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, wrong)), patient.insurer)
    assert answer.blocks == {3: [("R", "501940"), ("R", "502742")], 4: [("R", "514225")]}


def test_a_valid_commitment_is_honoured_and_another_amount_is_501920(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("regular"), gp(sim)
    when = day(sim, 4)
    number = _commitment(sim, patient, doctor, when)
    right = replace(priced(patient, doctor, "101032", when), commitment=number)
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, right)), patient.insurer)
    assert answer.blocks == {}
    other_day = day(sim, 2)
    number = _commitment(sim, patient, doctor, other_day)
    off = replace(priced(patient, doctor, "101032", other_day), commitment=number, amount=1)
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, off)), patient.insurer)
    assert answer.blocks == {3: [("R", "501920")], 4: [("R", "510119")]}
    assert answer.zones[(3, "501920")] == "19"


# -- the patient: 500540, 500640, 500742, 500450, 503043 ------------------------------------------


def test_500540_not_in_order_on_the_first_service_date(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("not-in-order"), gp(sim)
    service = priced(patient, doctor, "101032", day(sim, 3))
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, service)), patient.insurer)
    assert answer.blocks == {3: [("R", "500540")]} and answer.zones[(3, "500540")] == "5"


def test_500640_insured_on_the_first_service_date_not_on_the_last(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("not-insured"), gp(sim)
    period = patient.periods[-1]
    assert period.end is not None
    span = priced(patient, doctor, "101032", period.end - timedelta(days=1))
    span = replace(span, last_day=period.end + timedelta(days=2))
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, span)), patient.insurer)
    assert answer.blocks == {3: [("R", "500640")]} and answer.zones[(3, "500640")] == "6a"


def test_500742_a_known_patient_at_another_mutuality(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("regular"), gp(sim)
    mine = (patient.period_on(day(sim, 3)) or patient.periods[-1]).mutuality
    other = next(
        p.mutuality for p in sim.population.patients
        if p.insurer == patient.insurer and p.mutuality != mine
    )  # fmt: skip
    service = replace(priced(patient, doctor, "101032", day(sim, 3)), mutuality=other)
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, service)), patient.insurer)
    assert answer.blocks == {3: [("R", "500742")]} and answer.zones[(3, "500742")] == "7"


def test_500450_a_medical_house_member(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("medical-house"), gp(sim)
    service = priced(patient, doctor, "101032", day(sim, 3))
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, service)), patient.insurer)
    assert answer.blocks == {3: [("R", "500450")]} and answer.zones[(3, "500450")] == "4"


def test_503043_a_supplement_for_an_automatic_bim_but_not_after_an_income_enquiry(
    sim: Simulator,
) -> None:
    doctor = gp(sim)
    for situation, expected in (("bim", {3: [("R", "503043")]}), ("bim-income", {})):
        patient = sim.population.situation(situation)
        service = replace(priced(patient, doctor, "101032", day(sim, 3)), supplement=500)
        answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, service)), patient.insurer)
        assert answer.blocks == expected, situation


# -- 500119 / 510119: the cascade, main to secondary ----------------------------------------------


def test_500119_the_night_supplement_falls_with_its_consultation(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("regular"), gp(sim)
    when = day(sim, 3)
    consultation = replace(priced(patient, doctor, "101032", when), amount=1)
    supplement = priced(patient, doctor, "102432", when)
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, consultation, supplement)),
                  patient.insurer)  # fmt: skip
    assert answer.blocks == {3: [("R", "501940")], 4: [("R", "500119")]}
    assert answer.zones[(4, "500119")] == "1"
    assert answer.paid == 0
    # The other way round: a wrong supplement leaves its consultation paid.
    right = priced(patient, doctor, "101032", day(sim, 2))
    bad = replace(priced(patient, doctor, "102432", day(sim, 2)), amount=1)
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, right, bad)), patient.insurer)
    assert answer.blocks == {4: [("R", "501940")]} and answer.paid == right.amount


# -- one file per doctor and insurer: B201803, R501503 --------------------------------------------


def test_201803_a_patient_of_another_union_refuses_the_file(sim: Simulator) -> None:
    doctor = gp(sim)
    mine = sim.population.situation("regular")
    other = next(p for p in sim.population.patients[40:]
                 if p.insurer != mine.insurer and p.period_on(day(sim, 3)) is not None
                 and p.death_date is None and not p.mediprima)  # fmt: skip
    content = file_of(sim, doctor.nihii, invoice(mine, priced(mine, doctor, "101032", day(sim, 3))),
                      invoice(other, priced(other, doctor, "101032", day(sim, 3))))  # fmt: skip
    answer = post(sim, content, mine.insurer)
    assert answer.verdict == "920099"
    foreign = [i for i, found in answer.blocks.items() if ("B", "201803") in found]
    assert len(foreign) == 1 and answer.zones[(foreign[0], "201803")] == "18"


def test_501503_another_doctors_service_in_a_doctors_file(sim: Simulator) -> None:
    patient, doctor, colleague = sim.population.situation("regular"), gp(sim), gp(sim, 2)
    services = (priced(patient, doctor, "101032", day(sim, 4)),
                priced(patient, colleague, "101032", day(sim, 3)))  # fmt: skip
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, *services)), patient.insurer)
    assert answer.blocks == {4: [("R", "501503")]} and answer.zones[(4, "501503")] == "15"


# -- the two-month rule ---------------------------------------------------------------------------


def test_an_old_service_is_paid_with_a_fine_flagged_e500503_in_the_920900(sim: Simulator) -> None:
    patient, doctor = sim.population.situation("regular"), gp(sim)
    old = priced(patient, doctor, "101032", day(sim, 75))
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, old)), patient.insurer)
    assert (answer.verdict, answer.blocks) == ("920098", {3: [("E", "500503")]})
    assert answer.settled == {3: [("E", "500503")]} and answer.paid == old.amount
    assert FINE_REMARK in answer.comments[3]


def test_an_insurer_whose_scenario_rejects_old_services_says_r500503(sim: Simulator) -> None:
    sim.replace_scenario(Scenario(name="strict", efact_two_month_rule="reject"))
    patient, doctor = sim.population.situation("regular"), gp(sim)
    old = priced(patient, doctor, "101032", day(sim, 75))
    answer = post(sim, file_of(sim, doctor.nihii, invoice(patient, old)), patient.insurer)
    assert answer.blocks == {3: [("R", "500503")]} and answer.paid == 0


def test_the_rules_page_names_every_code_tested_here() -> None:
    rules = (Path(__file__).parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    section = rules[rules.index("## eFact (third-party payer"):]
    for code in ("502255", "501940", "502742", "514225", "504940", "500540", "500640", "500450",
                 "500119", "510119", "502258", "500415", "500444", "500447", "500742", "201803",
                 "501503", "500503", "501920", "503043"):  # fmt: skip
        assert code in section, code


def test_the_two_month_rule_is_a_top_level_scenario_setting() -> None:
    assert load_scenario("name: s\n").efact_two_month_rule == "fine"  # the seeds: a fine
    assert load_scenario("name: s\nefact_two_month_rule: reject\n").efact_two_month_rule == (
        "reject"
    )
    with pytest.raises(ScenarioError, match="efact_two_month_rule 'sometimes'"):
        load_scenario("name: s\nefact_two_month_rule: sometimes\n")
    schema = json.loads((Path(__file__).parents[2] / "schemas" / "scenario.schema.json")
                        .read_text(encoding="utf-8"))  # fmt: skip
    assert schema["properties"]["efact_two_month_rule"]["enum"] == ["fine", "reject"]
