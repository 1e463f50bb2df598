"""MediPrima over HTTP with the package client: consultation v1/v2, UMA and CAAMI tarification.

Every rejection is asked for with the patient situation that causes it (population.SITUATIONS).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from simulator.client import ConnectorClient, ServiceFault, mediprima
from simulator.codecs import mediprima as consult_codec
from simulator.codecs import uma as uma_codec
from simulator.domain.cpas import CareKind, CpasDecision
from simulator.domain.mediprima import DATA_NOT_FOUND, REQUESTER, SUCCESS
from simulator.domain.population import Patient
from simulator.domain.uma import SendUma
from simulator.security.pki import write_keystore
from simulator.soap.validation import OfficialSchemas
from tests.e2e.conftest import PASSWORD, Running
from tests.support.server import start_server

GP_CONSULTATION = "101032"
ACQUIRED_RIGHTS_CONSULTATION = "101010"  # no longer attestable after 2025 (our assumption)
CHILD_DENTAL_CONSULTATION = "371033"  # up to the 19th birthday


def _today(running: Running) -> date:
    return running.sim.clock.today()


def _patient(running: Running, situation: str) -> Patient:
    return running.population.situation(situation)


def _decision(patient: Patient) -> CpasDecision:
    (decision,) = patient.cpas_decisions
    return decision


# -- consultation -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
async def test_a_full_decision_gives_cover_and_an_agreement_number(
    running: Running, version: int
) -> None:
    patient = _patient(running, "mediprima-full")
    decision = _decision(patient)
    async with running.client() as client:
        answer = await mediprima.consult(
            client, patient.ssin, version=version, reference_date=_today(running)
        )
    assert (answer.status, answer.reason_codes) == (SUCCESS, ())
    (carmed,) = answer.carmeds
    assert (carmed.carmed_number, carmed.version) == (decision.carmed_number, decision.version)
    assert carmed.cpas_cbe == decision.cpas.cbe
    assert carmed.covers == ("Doctor", "Hospitalization", "PharmaceuticalDrug")
    assert carmed.doctor_support == ("FULL", "FULL", "NOTHING")
    assert running.provider.nihii in carmed.doctors
    assert (carmed.refund_code, carmed.medical_urgency) == (100, False)
    assert carmed.agreement_number is not None and carmed.agreement_number.startswith("MP")


async def test_partial_cover_shows_the_patient_share_and_the_state_refund(
    running: Running,
) -> None:
    patient = _patient(running, "mediprima-partial")
    async with running.client() as client:
        answer = await mediprima.consult(client, patient.ssin, reference_date=_today(running))
    (carmed,) = answer.carmeds
    assert carmed.doctor_support == ("FULL", "PARTIAL", "NOTHING")
    assert carmed.refund_code == 50


async def test_urgent_medical_aid_number_is_in_v2_only(running: Running) -> None:
    patient = _patient(running, "mediprima-uma")
    decision = _decision(patient)
    async with running.client() as client:
        v1 = await mediprima.consult(
            client, patient.ssin, version=1, reference_date=_today(running)
        )
        v2 = await mediprima.consult(
            client, patient.ssin, version=2, reference_date=_today(running)
        )
    assert v1.carmeds[0].medical_urgency and v2.carmeds[0].medical_urgency
    assert v1.carmeds[0].uma_attestation_number is None
    assert v2.carmeds[0].uma_attestation_number == decision.uma_attestation
    assert v2.carmeds[0].beneficiary_status == "I"


@pytest.mark.parametrize(
    ("situation", "status", "reason", "with_card"),
    [
        ("mediprima-suspended", SUCCESS, "DECISION_SUSPENDED", True),
        ("mediprima-not-listed", SUCCESS, "NOT_IN_PROVIDER_LIST", True),
        ("mediprima-cover-inactive", SUCCESS, "DOCTOR_COVER_INACTIVE", True),
        ("mediprima-no-doctor-cover", SUCCESS, "NO_DOCTOR_COVER", True),
        ("mediprima-expired", DATA_NOT_FOUND, "NO_ACTIVE_DECISION", False),
        ("regular", DATA_NOT_FOUND, "NO_DECISION", False),
    ],
)
async def test_no_agreement_number_and_the_reason(
    running: Running, situation: str, status: str, reason: str, with_card: bool
) -> None:
    patient = _patient(running, situation)
    async with running.client() as client:
        answer = await mediprima.consult(client, patient.ssin, reference_date=_today(running))
    assert (answer.status, answer.reason_codes) == (status, (reason,))
    assert bool(answer.carmeds) is with_card
    assert all(carmed.agreement_number is None for carmed in answer.carmeds)


async def test_an_old_path_decision_may_be_billed_either_way(running: Running) -> None:
    # docs/rules.md "MediPrima consultation": taken before 1 Sep 2025, the CPAS may still be
    # billed (OLD_PATH, information) and MediPrima gives its agreement number too.
    patient = _patient(running, "mediprima-old-path")
    async with running.client() as client:
        answer = await mediprima.consult(client, patient.ssin, reference_date=_today(running))
    assert (answer.status, answer.reason_codes) == (SUCCESS, ("OLD_PATH",))
    (carmed,) = answer.carmeds
    assert carmed.agreement_number is not None


async def test_an_invalid_ssin_is_the_requesters_error(running: Running) -> None:
    async with running.client() as client:
        answer = await mediprima.consult(client, "12345678901", reference_date=_today(running))
    assert (answer.status, answer.reason_codes, answer.carmeds) == (
        REQUESTER,
        ("INVALID_SSIN",),
        (),
    )


async def test_a_period_finds_a_decision_that_ended_inside_it(running: Running) -> None:
    patient = _patient(running, "mediprima-expired")
    decision = _decision(patient)
    assert decision.end is not None
    async with running.client() as client:
        answer = await mediprima.consult(
            client, patient.ssin, period=(decision.end - timedelta(days=3), _today(running))
        )
    (carmed,) = answer.carmeds
    assert (carmed.carmed_number, carmed.end) == (decision.carmed_number, decision.end)


async def test_consultation_answers_validate_against_the_official_xsd(
    running: Running, shared_reference: Path
) -> None:
    official = OfficialSchemas(shared_reference / "xsd")
    now = datetime.now(UTC)
    async with running.client() as client:
        for situation in ("mediprima-uma", "mediprima-suspended", "regular"):
            for version in (1, 2):
                request = consult_codec.build_request(
                    _patient(running, situation).ssin,
                    version=version,
                    request_id=f"_{uuid.uuid4().hex}",
                    now=now,
                    reference_date=_today(running),
                )
                action = (
                    f"urn:be:fgov:ehealth:mediprima:protocol:v{version}:consultCarmedIntervention"
                )
                reply = await client.call(mediprima.CONSULT_PATHS[version], action, request)
                payload = etree.fromstring(etree.tostring(reply.payload))
                assert official.validate(payload) is None, (situation, version)


async def test_a_qualified_child_is_refused_as_not_xsd_conform(running: Running) -> None:
    request = consult_codec.build_request(
        _patient(running, "mediprima-full").ssin,
        version=2,
        request_id="_q",
        now=datetime.now(UTC),
        reference_date=_today(running),
    )
    request[0].tag = f"{{{consult_codec.protocol(2)}}}SelectionCriteria"  # must be unqualified
    action = "urn:be:fgov:ehealth:mediprima:protocol:v2:consultCarmedIntervention"
    async with running.client() as client:
        with pytest.raises(ServiceFault) as refused:
            await client.call(mediprima.CONSULT_PATHS[2], action, request)
    assert refused.value.code == "SOA-03006"
    assert "SelectionCriteria" in refused.value.message


# -- UMA --------------------------------------------------------------------------------------


async def test_an_attestation_is_sent_found_linked_and_deleted(running: Running) -> None:
    patient = _patient(running, "mediprima-uma-missing")
    today = _today(running)
    async with running.client() as client:
        before = await mediprima.consult(client, patient.ssin, reference_date=today)
        assert before.reason_codes == ("URGENT_MEDICAL_AID_ATTESTATION_REQUIRED",)
        sent = await mediprima.send_uma(client, patient.ssin, today - timedelta(days=1))
        assert (sent.status, sent.error_codes) == (SUCCESS, ())
        (attestation,) = sent.attestations
        assert attestation.number.startswith(f"UMA-{today:%Y%m%d}-")
        assert attestation.author_nihii == running.provider.nihii

        after = await mediprima.consult(client, patient.ssin, reference_date=today)
        assert after.reason_codes == ()
        assert after.carmeds[0].uma_attestation_number == attestation.number

        by_number = await mediprima.search_uma(client, patient.ssin, number=attestation.number)
        by_period = await mediprima.search_uma(client, patient.ssin, period=(today, None))
        assert [a.number for a in by_number.attestations] == [attestation.number]
        assert [a.number for a in by_period.attestations] == [attestation.number]

        again = await mediprima.send_uma(client, patient.ssin, today - timedelta(days=1))
        assert (again.status, again.error_codes) == (REQUESTER, ("DUPLICATE",))

        deleted = await mediprima.delete_uma(client, patient.ssin, attestation.number)
        assert (deleted.status, deleted.deleted_number) == (SUCCESS, attestation.number)
        gone = await mediprima.search_uma(client, patient.ssin, number=attestation.number)
        assert (gone.status, gone.error_codes, gone.attestations) == (
            DATA_NOT_FOUND,
            ("NOT_FOUND",),
            (),
        )
        twice = await mediprima.delete_uma(client, patient.ssin, attestation.number)
        assert (twice.status, twice.error_codes) == (DATA_NOT_FOUND, ("NOT_FOUND",))


async def test_only_the_author_may_delete_an_attestation(running: Running) -> None:
    patient = _patient(running, "mediprima-uma")
    other_gp = running.population.providers_of_kind("GP")[1]
    other = running.keystore_for(other_gp, f"gp-{other_gp.nihii}")
    async with running.client() as client:
        sent = await mediprima.send_uma(client, patient.ssin, _today(running))
    (attestation,) = sent.attestations
    async with running.client(other) as client:
        refused = await mediprima.delete_uma(client, patient.ssin, attestation.number)
    assert (refused.status, refused.error_codes) == (REQUESTER, ("NOT_AUTHOR",))


@pytest.mark.parametrize(
    ("situation", "code"),
    [
        ("mediprima-full", "NOT_URGENT_MEDICAL_AID"),  # the decision covers more than AMU
        ("regular", "NO_DECISION"),  # insured, no CPAS decision at all
        ("mediprima-expired", "NO_DECISION"),  # the decision ended before the care
    ],
)
async def test_an_attestation_without_an_urgent_medical_aid_decision_is_refused(
    running: Running, situation: str, code: str
) -> None:
    async with running.client() as client:
        answer = await mediprima.send_uma(
            client, _patient(running, situation).ssin, _today(running)
        )
    assert (answer.status, answer.error_codes, answer.attestations) == (REQUESTER, (code,), ())


async def test_an_author_other_than_the_token_holder_is_refused(running: Running) -> None:
    patient = _patient(running, "mediprima-uma")
    other = running.population.providers_of_kind("GP")[1]
    forged = SendUma(
        uma_codec.author_of(other.nihii, other.ssin, other.last_name, other.first_name),
        patient.ssin,
        _today(running),
        None,
        "DOCTOR",
    )
    request = uma_codec.build_send_request(forged, request_id="_f", now=datetime.now(UTC))
    async with running.client() as client:
        reply = await client.call(mediprima.UMA_PATH, mediprima.UMA_ACTION.format("send"), request)
    answer = uma_codec.parse_response(reply.payload)
    assert (answer.status, answer.error_codes) == (REQUESTER, ("AUTHOR_NOT_CALLER",))


async def test_an_attestation_cannot_start_in_the_future(running: Running) -> None:
    patient = _patient(running, "mediprima-uma")
    async with running.client() as client:
        answer = await mediprima.send_uma(client, patient.ssin, _today(running) + timedelta(days=2))
    assert answer.error_codes == ("START_IN_FUTURE",)


async def test_attestations_survive_a_restart(tmp_path: Path) -> None:
    server = start_server(tmp_path, patients=60, providers=8)
    try:
        sim = server.sim
        assert sim is not None
        gp = sim.population.providers_of_kind("GP")[0]
        keystore = tmp_path / "gp.p12"
        identity = sim.pki.issue_provider(gp.nihii, gp.ssin, f"{gp.first_name} {gp.last_name}")
        write_keystore(keystore, identity, PASSWORD)
        patient = sim.population.situation("mediprima-uma-missing")

        def client() -> ConnectorClient:
            assert server.sim is not None
            return ConnectorClient(
                server.base_url, keystore, PASSWORD, ca_cert=server.sim.pki.ca_cert_path
            )

        async with client() as connector:
            sent = await mediprima.send_uma(connector, patient.ssin, sim.clock.today())
        (attestation,) = sent.attestations
    finally:
        server.stop()
    server = start_server(tmp_path, patients=60, providers=8)
    try:
        async with client() as connector:
            found = await mediprima.search_uma(connector, patient.ssin, number=attestation.number)
            fresh = await mediprima.send_uma(
                connector, patient.ssin, sim.clock.today() - timedelta(days=1)
            )
    finally:
        server.stop()
    assert [a.number for a in found.attestations] == [attestation.number]
    assert fresh.attestations[0].number != attestation.number  # the sequence went on


# -- CAAMI tarification -----------------------------------------------------------------------


async def test_full_cover_the_state_pays_everything(running: Running) -> None:
    patient = _patient(running, "mediprima-full")
    decision = _decision(patient)
    async with running.client() as client:
        result = await mediprima.tarification(
            client, patient.ssin, [GP_CONSULTATION], _today(running)
        )
    assert (result.complete, result.errors) == (True, ())
    (line,) = result.lines
    assert (line.fee, line.reimbursement_fpssi) == (Decimal("30.00"), Decimal("30.00"))
    assert (line.reimbursement_pswc, line.patient_fee) == (Decimal("0.00"), Decimal("0.00"))
    assert line.financial_contract.startswith("600")
    assert line.pswc_cbe == decision.cpas.cbe
    assert (line.mediprima_number, line.mediprima_version) == (
        decision.carmed_number,
        str(decision.version),
    )
    assert line.urgent_medical_care is False
    assert result.patient_ssin == patient.ssin


async def test_partial_cover_splits_state_cpas_and_patient(running: Running) -> None:
    patient = _patient(running, "mediprima-partial")
    async with running.client() as client:
        result = await mediprima.tarification(
            client, patient.ssin, [GP_CONSULTATION], _today(running)
        )
    (line,) = result.lines
    # 50 % State refund of 24.00 + 6.00; the CPAS takes the rest of the insurance part; the
    # patient's remaining 3.00 is under the 4 EUR ceiling of the partial patient part.
    assert (line.reimbursement_fpssi, line.reimbursement_pswc, line.patient_fee) == (
        Decimal("15.00"),
        Decimal("12.00"),
        Decimal("3.00"),
    )
    assert line.reimbursement_fpssi + line.reimbursement_pswc + line.patient_fee == line.fee


async def test_urgent_medical_aid_is_flagged_on_each_line(running: Running) -> None:
    patient = _patient(running, "mediprima-uma")
    async with running.client() as client:
        result = await mediprima.tarification(
            client, patient.ssin, [GP_CONSULTATION], _today(running)
        )
    assert [line.urgent_medical_care for line in result.lines] == [True]


@pytest.mark.parametrize(
    ("situation", "code"),
    [
        ("deceased", "200"),
        ("mediprima-expired", "201"),
        ("regular", "202"),
        ("mediprima-suspended", "203"),
        ("mediprima-not-listed", "204"),
        ("mediprima-cover-inactive", "206"),
        ("mediprima-no-doctor-cover", "207"),
    ],
)
async def test_each_decision_problem_has_its_code(
    running: Running, situation: str, code: str
) -> None:
    patient = _patient(running, situation)
    async with running.client() as client:
        result = await mediprima.tarification(
            client, patient.ssin, [GP_CONSULTATION], _today(running)
        )
    assert (result.complete, [e.code for e in result.errors], result.lines) == (False, [code], ())


async def test_urgent_aid_is_priced_only_once_attested(running: Running) -> None:
    # docs/rules.md "CAAMI tarification" 208: the AMU attestation (UMA) must exist first.
    patient = _patient(running, "mediprima-uma-missing")
    today = _today(running)
    async with running.client() as client:
        refused = await mediprima.tarification(client, patient.ssin, [GP_CONSULTATION], today)
        sent = await mediprima.send_uma(client, patient.ssin, today)
        priced = await mediprima.tarification(client, patient.ssin, [GP_CONSULTATION], today)
        await mediprima.delete_uma(client, patient.ssin, sent.attestations[0].number)
    assert [e.code for e in refused.errors] == ["208"]
    assert (priced.complete, priced.errors) == (True, ())
    assert [line.urgent_medical_care for line in priced.lines] == [True]


async def test_a_code_no_longer_attestable_is_196(running: Running) -> None:
    patient = _patient(running, "mediprima-full")
    async with running.client() as client:
        result = await mediprima.tarification(
            client, patient.ssin, [ACQUIRED_RIGHTS_CONSULTATION], _today(running)
        )
    assert [e.code for e in result.errors] == ["196"]


async def test_an_age_bound_code_for_an_adult_is_183(running: Running) -> None:
    patient = _patient(running, "mediprima-full")
    assert patient.age_on(_today(running)) >= 19
    dentist = running.population.providers_of_kind("DENTIST")[0]
    keystore = running.keystore_for(dentist, "dentist")
    async with running.client(keystore) as client:
        result = await mediprima.tarification(
            client, patient.ssin, [CHILD_DENTAL_CONSULTATION], _today(running)
        )
    assert [e.code for e in result.errors] == ["183"]


async def test_the_rejection_text_names_the_decision(running: Running) -> None:
    patient = _patient(running, "mediprima-no-doctor-cover")
    async with running.client() as client:
        result = await mediprima.tarification(
            client, patient.ssin, [GP_CONSULTATION], _today(running)
        )
    (error,) = result.errors
    assert error.description is not None
    assert _decision(patient).carmed_number in error.description and "{" not in error.description
    assert _decision(patient).cover(CareKind.DOCTOR) is None


async def test_the_reconstructed_sample_request_is_answered(
    running: Running, shared_reference: Path
) -> None:
    from simulator.services.mediprima import soap_action
    from simulator.soap.parser import parse_xml

    sample = (
        shared_reference / "samples/reconstructed/mediprima-v2-ConsultCarmedInterventionRequest.xml"
    )
    payload = parse_xml(sample.read_bytes())
    async with running.client() as client:
        reply = await client.call("/MediPrima/Consult/v2", soap_action(2), payload)
    answer = consult_codec.parse_response(reply.payload)
    # 00011317652 is nobody in the synthetic world: no CPAS decision to show, and the reason.
    assert answer.carmeds == ()
    assert answer.status != SUCCESS
    assert answer.reason_codes
