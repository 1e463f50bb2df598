"""A genuine Java client, written the way the eHealth connector uses SAAJ + WSS4J + Santuario.

`java/ConnectorLikeClient.java` is compiled here with plain javac against Debian's jars
(libsaaj-ri-java, libwss4j-java 1.6, libxml-security-java, libbcprov-java) and run against a
live simulator. Python prepares the business content with the project's own builders (the
sealed MemberData and eAttest requests, the eTar request, a 920000 file of more than 80 KB
deflated with its GenAsync post and XAdES); the Java program owns the SOAP, WS-Security, MTOM
and HTTP layer and verifies every answer with WSS4J against the simulator's test CA.

Skipped when javac or a jar is missing, unless MYCARENET_REQUIRE_JAVA=1 (CI): then it fails.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography import x509
from lxml import etree

from simulator.client import genasync as ga_client
from simulator.client.connector import ConnectorClient, Reply
from simulator.client.eattest import send_attestation
from simulator.codecs import eattest as eattest_codec
from simulator.codecs import genasync as ga_codec
from simulator.codecs import memberdata as memberdata_codec
from simulator.codecs import tarification as tarification_codec
from simulator.codecs.eattest import ServiceLine
from simulator.codecs.encrypted_content import parse_known_content
from simulator.codecs.mycarenet_commons import Blob
from simulator.domain.population import Patient, Population
from simulator.domain.sts import designators_for
from simulator.efact.generator import Spec, generate
from simulator.efact.parser import parse
from simulator.security.pki import Identity, parse_subject, write_keystore
from simulator.security.sealing import unseal
from simulator.services import efact_processing as processing
from simulator.services.mailbox import MAILBOXES
from simulator.soap.namespaces import SOAP11
from simulator.store.base import JournalQuery
from tests.interop.report import REPORTS
from tests.support.server import ServerThread, start_server

JAVA_SOURCE = Path(__file__).parent / "java" / "ConnectorLikeClient.java"
MAIN_CLASS = "ConnectorLikeClient"
JAR_DIR = Path(os.environ.get("MYCARENET_JAVA_JARS", "/usr/share/java"))
# What the program needs at compile and run time; all come with
# `apt-get install libsaaj-ri-java libwss4j-java libbcprov-java` (see .ci/run).
JARS = (
    "saaj-impl", "javax.xml.soap-api", "javax.activation", "mimepull", "stax-ex",  # SAAJ 1.4
    "wss4j", "xmlsec", "bcprov", "commons-logging", "commons-codec", "slf4j-api", "slf4j-nop",
    "woodstox-core", "stax2-api",
)  # fmt: skip
PASSWORD = "java-interop"
STEPS = (
    "sts", "etar", "memberdata", "eattest-send",
    "genasync-post", "genasync-get", "genasync-confirm", "genasync-get-after-confirm",
)  # fmt: skip
MTOM_THRESHOLD = 81920  # bytes, the connector's default for GenAsync
INVOICES = 1500  # the 920000 then deflates to about 120 KB, well above the threshold
GP_CONSULTATION = "101032"
RUN_TIMEOUT_S = 120

pytestmark = [pytest.mark.interop, pytest.mark.slow]


@dataclass(frozen=True)
class JavaTools:
    javac: str
    java: str
    classpath: str


@pytest.fixture(scope="module")
def tools() -> JavaTools:
    """javac, java and the jars; skipped when missing unless MYCARENET_REQUIRE_JAVA=1."""
    javac, java = shutil.which("javac"), shutil.which("java")
    missing = [name for name, found in (("javac", javac), ("java", java)) if found is None]
    jars = [JAR_DIR / f"{name}.jar" for name in JARS]
    missing += [str(jar) for jar in jars if not jar.is_file()]
    if missing or javac is None or java is None:
        message = f"the Java interop client needs {', '.join(missing)}"
        if os.environ.get("MYCARENET_REQUIRE_JAVA") == "1":
            pytest.fail(f"{message} (MYCARENET_REQUIRE_JAVA=1)")
        pytest.skip(message)
    return JavaTools(javac, java, os.pathsep.join(str(jar) for jar in jars))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    running = start_server(tmp_path_factory.mktemp("java-sim"))
    # eFact answers due at once: the first `get` after the post finds all three.
    zero = timedelta(0)
    processing.configure(
        running.sim,
        processing.ProcessingConfig(receipt_after=zero, check_after=zero, settle_after=zero),
    )
    yield running
    running.stop()


class _Recorder(ConnectorClient):
    """The package client with its last leg cut: `call` keeps the payload instead of sending.

    Everything before it runs as usual (ETK depot look-ups, sealing, XAdES), so the payloads
    are exactly what the Python client would have signed and sent.
    """

    payloads: dict[str, etree._Element]

    async def call(self, path: str, soap_action: str | None, payload: etree._Element) -> Reply:
        self.payloads[path] = payload
        raise _Kept


class _Kept(Exception):
    pass


def _plain_adult(population: Population, today: date) -> Patient:
    """Insured, not BIM, no DMG, no medical house: nothing in the way of eTar or eAttest."""
    for patient in population.patients:
        if (
            patient.situation == "random"
            and 25 <= patient.age_on(today) < 75
            and patient.period_on(today) is not None
            and patient.death_date is None
            and patient.dmg_holder is None
            and not (patient.bim or patient.medical_house or patient.mediprima or patient.chronic)
        ):
            return patient
    raise AssertionError("the population has no plain insured adult")


async def _business_payloads(
    server: ServerThread, keystore: Path, patient: Patient
) -> dict[str, etree._Element]:
    sim = server.sim
    today = sim.clock.today()
    recorder = _Recorder(server.base_url, keystore, PASSWORD, ca_cert=sim.pki.ca_cert_path)
    recorder.payloads = {}
    async with recorder:
        for kept in (
            recorder.tarification(patient.ssin, [GP_CONSULTATION], today),
            recorder.member_data(patient.ssin, today, today + timedelta(days=1)),
            send_attestation(
                recorder,
                patient,
                [ServiceLine(code=GP_CONSULTATION, day=today, amount=Decimal("30.00"))],
            ),
        ):
            with pytest.raises(_Kept):
                await kept
    return {
        "etar": recorder.payloads["/MyCareNet/Tarification/v1"],
        "memberdata": recorder.payloads["/MyCareNet/MemberData/v1"],
        "eattest": recorder.payloads["/MyCareNet/eAttest/v3"],
    }


def _efact_payloads(server: ServerThread, keystore: Path) -> tuple[dict[str, etree._Element], int]:
    """The GenAsync post of a 920000 (XAdES-BES included), get and confirm skeletons."""
    sim = server.sim
    out = io.BytesIO()
    # One union per file (docs/rules.md, eFact): the patients of the insurer it is posted to.
    spec = Spec(invoices=INVOICES, today=sim.clock.today(), seed=7, insurer="300")
    generate(out, sim.population, spec)
    content = out.getvalue()
    client = ConnectorClient(server.base_url, keystore, PASSWORD, ca_cert=sim.pki.ca_cert_path)
    post = ga_client.post_payload(
        client,
        content,
        message_name="HCPFAC",
        input_reference=parse(content)[0].zone200("204"),
        with_xades=True,
        moment=datetime.now(UTC),
    )
    origin = ga_client.origin_of(client)
    get = ga_codec.build_get(
        ga_codec.GetRequest(
            origin=origin,
            msg_query=ga_codec.Query(True, 1000),
            message_names=(),
            tack_query=ga_codec.Query(True, 1000),
        )
    )
    confirm = ga_codec.build_confirm(ga_codec.ConfirmRequest(origin=origin))
    detail = post.find(f"{{{ga_codec.GA}}}Detail")
    assert detail is not None and detail.text is not None
    deflated = len(detail.text) * 3 // 4
    assert deflated > MTOM_THRESHOLD, f"the 920000 deflates to {deflated} bytes only"
    return {"post": post, "get": get, "confirm": confirm}, deflated


def _write(path: Path, element: etree._Element) -> Path:
    path.write_bytes(etree.tostring(element, xml_declaration=True, encoding="UTF-8"))
    return path


def _compile(tools: JavaTools, classes: Path) -> None:
    built = subprocess.run(
        [tools.javac, "-nowarn", "-encoding", "UTF-8", "-d", str(classes),
         "-cp", tools.classpath, str(JAVA_SOURCE)],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert built.returncode == 0, f"javac failed:\n{built.stdout}\n{built.stderr}"


def test_connector_like_java_client_full_flow(
    tools: JavaTools, server: ServerThread, tmp_path: Path
) -> None:
    started = time.monotonic()
    classes = tmp_path / "classes"
    _compile(tools, classes)
    compiled = time.monotonic()

    sim = server.sim
    # The generator bills the 920000 as the population's first GP: the keystore is theirs.
    provider = sim.population.providers_of_kind("GP")[0]
    identity = sim.pki.issue_provider(
        provider.nihii, provider.ssin, f"{provider.first_name} {provider.last_name}", "rsa"
    )
    keystore = tmp_path / "gp.p12"
    write_keystore(keystore, identity, PASSWORD)
    subject = parse_subject(identity.cert)
    assert subject.ssin is not None

    patient = _plain_adult(sim.population, sim.clock.today())
    payloads = asyncio.run(_business_payloads(server, keystore, patient))
    efact, deflated = _efact_payloads(server, keystore)
    files = tmp_path / "payloads"
    files.mkdir()
    settings = {
        "endpoint": server.base_url,
        "keystore": str(keystore),
        "keystore.password": PASSWORD,
        "ca": str(sim.pki.ca_cert_path),
        "out": str(tmp_path / "exchanges"),
        "sts.ssin": subject.ssin,
        "sts.designators": " ".join(designators_for(subject.profession)),
        "etar.payload": str(_write(files / "etar.xml", payloads["etar"])),
        "memberdata.payload": str(_write(files / "memberdata.xml", payloads["memberdata"])),
        "eattest.payload": str(_write(files / "eattest.xml", payloads["eattest"])),
        "genasync.path": MAILBOXES["hcpfac"].path,
        "genasync.threshold": str(MTOM_THRESHOLD),
        "genasync.post.payload": str(_write(files / "post.xml", efact["post"])),
        "genasync.post.to": ga_client.destination("300") or "",
        "genasync.get.payload": str(_write(files / "get.xml", efact["get"])),
        "genasync.confirm.payload": str(_write(files / "confirm.xml", efact["confirm"])),
        "genasync.expected.messages": "3",  # 931000, 920098, 920900
    }
    properties = tmp_path / "run.properties"
    properties.write_text(
        "".join(f"{key}={_escape(value)}\n" for key, value in settings.items()), encoding="utf-8"
    )
    prepared = time.monotonic()

    ran = subprocess.run(
        [tools.java, "-cp", os.pathsep.join((str(classes), tools.classpath)),
         MAIN_CLASS, str(properties)],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    finished = time.monotonic()
    lines = [line for line in ran.stdout.splitlines() if line.startswith("STEP ")]
    timing = (
        f"javac {compiled - started:.1f} s, Python payloads {prepared - compiled:.1f} s"
        f" (920000 deflated {deflated} bytes), java run {finished - prepared:.1f} s,"
        f" total {finished - started:.1f} s"
    )
    REPORTS.append(("Java connector-like client (SAAJ + WSS4J 1.6 + Santuario)", [*lines, timing]))
    outcome = {line.split()[1]: line.split()[2] for line in lines}
    report = "\n".join([*lines, timing])
    stderr = "\n".join(ran.stderr.splitlines()[-20:])
    assert [name for name in STEPS if outcome.get(name) != "OK"] == [] and ran.returncode == 0, (
        f"Java client steps (exit {ran.returncode}):\n{report}\nstderr:\n{stderr}"
    )
    post_line = next(line for line in lines if line.startswith("STEP genasync-post "))
    assert "MTOM/XOP attachment" in post_line, report

    # The business answers the Java client received, opened with the project's codecs.
    business = _business_outcomes(tmp_path / "exchanges", identity, sim.pki.ca_cert_path)
    REPORTS[-1][1].insert(len(lines), "business: " + "; ".join(business))

    # What the simulator saw: every request's signature checked and valid (strict mode), and
    # no SOAPAction header at all for MemberData and GenAsync.
    entries = [
        entry
        for entry in sim.store.journal(JournalQuery(limit=100, include_bodies=False))
        if entry.service != "etkdepot"  # the Python side's ETK look-ups while sealing
    ]
    assert len(entries) >= len(STEPS), [(e.service, e.operation) for e in entries]
    assert [
        (e.service, e.operation, e.security.get("verdict"))
        for e in entries
        if e.security.get("verdict") != "valid"
    ] == []
    assert [
        (e.service, e.operation, e.soap_action)
        for e in entries
        if e.service in ("memberdata", "genasync") and e.soap_action is not None
    ] == []


def _business_outcomes(exchanges: Path, identity: Identity, ca_path: Path) -> list[str]:
    """eTar priced, MemberData answered Success, eAttest numbered: read from what Java got."""
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())

    def answer(step: str) -> etree._Element:
        root = etree.fromstring((exchanges / f"{step}.response").read_bytes())
        body = root.find(f"{{{SOAP11}}}Body")
        assert body is not None and len(body), f"{step}: the saved answer has no Body payload"
        return body[0]

    def opened(blob: Blob) -> bytes:
        if blob.content_encryption is None:
            return blob.content
        unsealed = unseal(blob.content, recipient=identity, trusted_ca=ca)
        return parse_known_content(unsealed.content).business_content

    tarification = tarification_codec.parse_response(answer("etar"))
    assert tarification.complete and not tarification.errors, tarification.errors
    member = memberdata_codec.read_saml_response(
        opened(memberdata_codec.parse_response_detail(answer("memberdata")))
    )
    assert member.status.endswith(":Success"), member
    attest = eattest_codec.read_transaction_response(
        opened(eattest_codec.parse_response_detail(answer("eattest-send")))
    )
    assert attest.complete and attest.invoicing_number, attest.errors
    return [
        f"eTar complete, fee {tarification.lines[0].fee}",
        f"MemberData {member.status.rsplit(':', 1)[-1]}",
        f"eAttest accepted, invoicing number {attest.invoicing_number}",
    ]


def _escape(value: str) -> str:
    """A java.util.Properties value: backslashes and leading blanks escaped."""
    return value.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")
