"""Valid signed requests for every operation of `catalogue_of_operations()`, captured on the
wire while the project's client talks to a running simulator: the seeds the fuzzers mutate.

STS, ETK depot, eTar, MemberData, eAttest send/cancel, MediPrima consult v1/v2, UMA
send/search/delete, CAAMI tarification, GenAsync post/get/confirm. Each is recorded as the
client sent it (path, headers, bytes), whatever the service answered.
"""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from lxml import etree

from simulator.client import eattest as client_eattest
from simulator.client import genasync as ga_client
from simulator.client import mediprima
from simulator.client.connector import ConnectorClient, wire_now
from simulator.client.dialects import Dialect
from simulator.client.wss_layout import WSSE, secure_saml, secure_x509
from simulator.codecs.eattest import ServiceLine
from simulator.domain.population import Patient, Population
from simulator.efact.generator import Spec, generate
from simulator.security.pki import Identity
from simulator.soap.namespaces import SOAP11

CONTENT_TYPE = "text/xml; charset=utf-8"


@dataclass(frozen=True)
class Seed:
    """One valid request as it went on the wire."""

    operation: str  # "etar", "genasync-post" ...
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def __repr__(self) -> str:
        return f"Seed({self.operation})"

    @property
    def soap_action(self) -> str | None:
        return dict(self.headers).get("SOAPAction")


class RecordingClient(ConnectorClient):
    """The project's client, noting every request it sends."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.sent: list[tuple[str, str | None, bytes]] = []

    async def send_bytes(
        self, path: str, soap_action: str | None, body: bytes
    ) -> tuple[int, bytes]:
        self.sent.append((path, soap_action, body))
        return await super().send_bytes(path, soap_action, body)


def _patients(population: Population, today: date) -> tuple[Patient, Patient]:
    """A plain insured patient (eTar, eAttest, MemberData) and a MediPrima one."""
    plain = next(
        p for p in population.patients
        if p.death_date is None and not p.mediprima and p.period_on(today) is not None
    )  # fmt: skip
    try:
        mp = population.situation("mediprima-uma-missing")
    except (KeyError, ValueError):
        mp = next(p for p in population.patients if p.mediprima)
    return plain, mp


async def build_corpus(
    base_url: str,
    keystore: Path,
    password: str,
    ca_cert: Path,
    population: Population,
    today: date,
    *,
    business_now: Callable[[], datetime] | None = None,
) -> list[Seed]:
    """Run every operation once with the project's client; the requests it sent."""
    plain, mp = _patients(population, today)
    seeds: list[Seed] = []
    client = RecordingClient(base_url, keystore, password, ca_cert=ca_cert, now=business_now)

    async def record(operation: str, call: Callable[[], Awaitable[object]]) -> object:
        before = len(client.sent)
        result: object = None
        with contextlib.suppress(Exception):  # a refusal or fault: the request is what we want
            result = await call()
        if len(client.sent) > before:
            path, action, body = client.sent[-1]
            headers = [("Content-Type", CONTENT_TYPE)]
            if action is not None:
                headers += list(client.dialect.soap_action_header(path, action).items())
            seeds.append(Seed(operation, path, tuple(headers), body))
        return result

    async with client:
        await record("sts", client.token)
        await record("etkdepot", client.insurer_etk)
        await client.own_etk()
        await record("etar", lambda: client.tarification(plain.ssin, ["101032"], today))
        await record("memberdata",
                     lambda: client.member_data(plain.ssin, today, today + timedelta(days=1)))
        line = ServiceLine(code="101032", day=today, amount=Decimal("30.00"))
        sent = await record("eattest-send",
                            lambda: client_eattest.send_attestation(client, plain, [line]))
        number = "000000000000"
        result = getattr(sent, "result", None)
        for attribute in ("invoicing_number", "number"):
            value = getattr(result, attribute, None)
            if isinstance(value, str):
                number = value
        await record("eattest-cancel",
                     lambda: client_eattest.cancel_attestation(client, plain, number, "B"))
        for version in (1, 2):
            await record(f"mediprima-consult-v{version}", lambda v=version: mediprima.consult(  # type: ignore[misc]
                client, mp.ssin, version=v, reference_date=today))
        uma = await record("uma-send", lambda: mediprima.send_uma(client, mp.ssin, today))
        attestations = getattr(uma, "attestations", ()) or ()
        uma_number = attestations[0].number if attestations else "UMA-00000000-0000"
        await record("uma-search",
                     lambda: mediprima.search_uma(client, mp.ssin, number=uma_number))
        await record("uma-delete", lambda: mediprima.delete_uma(client, mp.ssin, uma_number))
        await record("caami-tarification",
                     lambda: mediprima.tarification(client, mp.ssin, ["101032"], today))
        out = io.BytesIO()
        generate(out, population, Spec(invoices=2, today=today, seed=7))
        content = out.getvalue()
        await record("genasync-post", lambda: ga_client.post(
            client, "hcpfac", content, message_name="HCPFAC", destination_io="300",
            input_reference=content[20:34].decode()))
        got = await record("genasync-get", lambda: ga_client.get(
            client, "hcpfac", max_messages=10, max_tacks=10))
        messages = getattr(got, "messages", ()) or ()
        references = [m.detail.reference or "" for m in messages] or ["0" * 32]
        await record("genasync-confirm", lambda: ga_client.confirm(
            client, "hcpfac", references=references, tack_contents=[]))
    return seeds


_SAFE = etree.XMLParser(resolve_entities=False, no_network=True)
WSA = "http://www.w3.org/2005/08/addressing"


@dataclass(frozen=True)
class Signer:
    """Signs a (mutated) request again as the client would, with real time: the signature is
    then valid over the mutated content, so that strict mode lets it reach the services."""

    identity: Identity
    assertion: etree._Element
    dialect: Dialect

    def __repr__(self) -> str:
        return "Signer()"

    def sign(self, operation: str, body: bytes) -> bytes | None:
        """`body` with a fresh wsse:Security; None when it is no envelope one can sign."""
        if operation == "etkdepot":  # sent unsecured
            return body
        try:
            root = etree.fromstring(body, _SAFE)
            header = root.find(f"{{{SOAP11}}}Header")
            if header is not None:
                for old in header.findall(f"{{{WSSE}}}Security"):
                    header.remove(old)
            for message_id in root.iter(f"{{{WSA}}}MessageID"):
                message_id.text = str(uuid.uuid4())  # else a replay of (MessageID, caller)
            style = self.dialect.header
            if operation == "sts":
                secure_x509(root, self.identity.key, self.identity.cert, style, now=wire_now())
            else:
                sign_body = (not operation.startswith("genasync")
                             or self.dialect.genasync_sign_body)
                secure_saml(root, self.assertion, self.identity.key, style, now=wire_now(),
                            sign_body=sign_body)
            return bytes(self.dialect.serialize(root))
        except (etree.XMLSyntaxError, ValueError, TypeError):
            return None


async def make_signer(base_url: str, keystore: Path, password: str, ca_cert: Path) -> Signer:
    """A Signer holding a fresh SAML token of the keystore's holder."""
    async with ConnectorClient(base_url, keystore, password, ca_cert=ca_cert) as client:
        assertion = await client.token()
        return Signer(client.identity, assertion, client.dialect)


OPERATIONS = (
    "sts", "etkdepot", "etar", "memberdata", "eattest-send", "eattest-cancel",
    "mediprima-consult-v1", "mediprima-consult-v2", "uma-send", "uma-search", "uma-delete",
    "caami-tarification", "genasync-post", "genasync-get", "genasync-confirm",
)  # fmt: skip
