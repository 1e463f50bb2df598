"""Time per attack request (issue 11), against one simulator process.

    python loadtests/bench_attacks.py [--timeout 60] [--only NAME ...]

Starts `mycarenet-sim serve` (strict security) in a child process, gets a GP token from its
STS like a connector, and sends, one at a time, a valid signed eTar request (the baseline)
and each attack: one MTOM part included 400 times, 100k attributes inside a copied token,
40k unused namespace declarations in a valid signed ~1 MB request, and a DOCTYPE whose
parameter entity names file:///dev/zero. For each it prints the wall time of the round trip,
the HTTP status, the SOA code of the fault, and how much the server's peak RSS grew.

An attack that gets no answer within --timeout is reported as such; the server is then
killed (a worker spinning in libxml2 never returns), so that attack is sent last.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from local_server import LocalServer, local_server
from lxml import etree

from simulator.client import ConnectorClient
from simulator.codecs import tarification as codec
from simulator.config import DEFAULT_SEED
from simulator.domain.population import build_population
from simulator.security.pki import TestPki, write_keystore
from simulator.security.wssecurity import sign_envelope_saml
from simulator.security.xmldsig import SigningKey
from simulator.soap.envelope import new_envelope, serialize

PATH = "/MyCareNet/Tarification/v1"
ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"
SOA = "urn:be:fgov:ehealth:errors:soa:v1"
XML = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ACTION}"'}


@dataclass(frozen=True)
class Attack:
    name: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Signer:
    assertion: etree._Element
    key: SigningKey
    request: Callable[[], etree._Element]

    def envelope(self) -> etree._Element:
        envelope = new_envelope(self.request())
        sign_envelope_saml(envelope, self.assertion, self.key, now=datetime.now(UTC))
        return envelope


async def signer_for(server: LocalServer) -> Signer:
    pki = TestPki.load_or_create(server.data_dir)
    today = datetime.now(UTC).date()
    population = build_population(seed=DEFAULT_SEED, patients=2000, providers=200, today=today)
    gp = next(p for p in population.providers if p.kind == "GP")
    patient = next(p for p in population.patients if p.period_on(today) and not p.medical_house)
    identity = pki.issue_provider(gp.nihii, gp.ssin, f"{gp.first_name} {gp.last_name}")
    keystore = server.data_dir / "bench-attacks.p12"
    write_keystore(keystore, identity, "bench")
    async with ConnectorClient(
        server.base_url, keystore, "bench", ca_cert=pki.ca_cert_path
    ) as client:
        assertion = await client.token()

    def request() -> etree._Element:
        return codec.build_request(
            provider_nihii=gp.nihii,
            provider_ssin=gp.ssin,
            provider_type="persphysician",
            patient_ssin=patient.ssin,
            encounter_date=today,
            codes=["101032"],
            gmd_manager=None,
            input_reference=f"{time.time_ns() % 10**17:017d}",
            issue_instant=datetime.now(UTC),
        )

    return Signer(assertion, identity.key, request)


def attacks(signer: Signer) -> list[Attack]:
    found = [Attack("baseline (valid signed eTar)", serialize(signer.envelope()), XML)]

    # MTOM: one 1 MB part named by 400 xop:Include (400 MB once inlined, before any check).
    includes = "".join(f'<d{i}><xop:Include href="cid:big@b"/></d{i}>' for i in range(400))
    root = f'<e xmlns:xop="http://www.w3.org/2004/08/xop/include">{includes}</e>'.encode()
    mtom = (
        b"--b1\r\nContent-Type: application/xop+xml\r\nContent-ID: <root@b>\r\n\r\n"
        + root
        + b"\r\n--b1\r\nContent-ID: <big@b>\r\n\r\n"
        + b"x" * 1_000_000
        + b"\r\n--b1--\r\n"
    )
    content_type = 'multipart/related; type="application/xop+xml"; boundary="b1"; start="<root@b>"'
    found.append(Attack("mtom: 1 MB part x 400 includes", mtom, {"Content-Type": content_type}))

    # 100k attributes inside a copied token: c14n sorts them before the digest can fail.
    # (Written as text: lxml's set() is linear per attribute, building them would take minutes.)
    signed = serialize(signer.envelope())
    attributes = b" ".join(b'a%d="x"' % i for i in range(100_000))
    start = signed.index(b"<saml:Conditions") + len(b"<saml:Conditions")
    padded = signed[:start] + b" " + attributes + signed[start:]
    found.append(Attack("100k attributes in the token", padded, XML))

    # 40k unused namespace declarations on a validly signed envelope (~1 MB).
    signed = serialize(signer.envelope())
    declarations = " ".join(f'xmlns:n{i}="urn:n:{i}"' for i in range(40_000)).encode()
    start = signed.index(b"<soap:Envelope") + len(b"<soap:Envelope")
    crowded = signed[:start] + b" " + declarations + signed[start:]
    found.append(Attack("40k namespace declarations", crowded, XML))

    xxe = b'<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///dev/zero"> %p;]><x/>'
    found.append(Attack("DOCTYPE entity on file:///dev/zero", xxe, XML))
    return found


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def send(server: LocalServer, attack: Attack, timeout: float) -> str:
    before = peak_rss_mb(server.process.pid)
    started = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.post(server.base_url + PATH, data=attack.body, headers=attack.headers) as r,
        ):
            raw, status = await r.read(), r.status
    except (TimeoutError, aiohttp.ClientError) as error:
        elapsed = time.perf_counter() - started
        return f"{attack.name:<38} {elapsed:9.3f} s  no answer ({type(error).__name__})"
    elapsed = time.perf_counter() - started
    code = ""
    try:
        code = etree.fromstring(raw).findtext(f".//{{{SOA}}}BusinessError/Code") or ""
    except etree.XMLSyntaxError:
        code = "(not XML)"
    grown = peak_rss_mb(server.process.pid) - before
    size = len(attack.body) / 1e6
    return (
        f"{attack.name:<38} {elapsed:9.3f} s  HTTP {status} {code or 'ok':<10}"
        f" body {size:6.2f} MB  peak RSS +{grown:7.1f} MB"
    )


async def run(timeout: float, only: list[str]) -> None:
    async with local_server("--no-delay") as server:
        signer = await signer_for(server)
        print(f"{'attack':<38} {'time':>11}  answer")
        for attack in attacks(signer):
            if only and not any(word in attack.name for word in only):
                continue
            line = await send(server, attack, timeout)
            print(line, flush=True)
            if "no answer" in line:
                server.process.kill()  # a worker stuck in libxml2 ignores SIGTERM
                break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--only", nargs="*", default=[], help="words of the attack names")
    args = parser.parse_args()
    asyncio.run(run(args.timeout, args.only))


if __name__ == "__main__":
    main()
