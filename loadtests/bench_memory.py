"""Peak memory of a server under concurrent near-limit bodies.

    python loadtests/bench_memory.py [--concurrency 8] [--rounds 2] [--size BYTES]

Starts `mycarenet-sim serve --no-delay` (strict security) in a child process, then sends
`--concurrency` signed GenAsync posts at once: an incompressible file, deflated and base64-
encoded in the Detail, with its XAdES, signed with the SAML token like the connector does.
Two kinds of rounds:
* near-limit: bodies just under the 20 MB limit. libxml2 refuses a text node over 10 MB
  (huge_tree off), so their ~19.9 MB Detail is refused at parse (SOA-03001);
* largest accepted: a ~9.9 MB Detail (7.4 MB of content), which goes through the whole
  pipeline: schema, WS-Security, XAdES over the Detail, storage, journal.
Prints the server's RSS before, its peak (VmHWM, reset before each round through
/proc/PID/clear_refs, and sampled every 5 ms) and what that costs a request.
Target (issue 11): 8 concurrent near-limit bodies under 500 MB peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from local_server import LocalServer, local_server
from lxml import etree

from simulator.client import ConnectorClient
from simulator.client import genasync as ga_client
from simulator.client.connector import wire_now
from simulator.codecs import genasync as codec
from simulator.config import DEFAULT_SEED, MAX_BODY_BYTES
from simulator.domain.population import build_population
from simulator.security.pki import TestPki, write_keystore

TARGET_MB = 500
MB = 1024 * 1024


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Sampler:
    """RSS sampled every 5 ms: the peak even where VmHWM cannot be reset."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, status_kb(self.pid, "VmRSS"))
            time.sleep(0.005)


XOP = "http://www.w3.org/2004/08/xop/include"
BOUNDARY = "bench-memory-boundary"
MTOM_TYPE = (
    f'multipart/related; type="application/xop+xml"; boundary="{BOUNDARY}"; '
    'start="<root@bench>"; start-info="text/xml"'
)
SOAP_TYPE = "text/xml; charset=utf-8"


def as_mtom(body: bytes) -> bytes:
    """The same post as MTOM/XOP: the Detail's bytes in a binary part (GenAsync signs the
    Timestamp only, so the Body may change form after signing)."""
    root = etree.fromstring(body, parser=etree.XMLParser(huge_tree=True))
    detail = next(root.iter(f"{{{codec.GA}}}Detail"))
    data = base64.b64decode(detail.text or "")
    detail.text = None
    etree.SubElement(detail, f"{{{XOP}}}Include", href="cid:detail@bench")
    head = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return b"".join(
        (
            f"--{BOUNDARY}\r\nContent-Type: application/xop+xml; charset=UTF-8; "
            'type="text/xml"\r\nContent-ID: <root@bench>\r\n\r\n'.encode(),
            head,
            f"\r\n--{BOUNDARY}\r\nContent-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: binary\r\nContent-ID: <detail@bench>\r\n\r\n".encode(),
            data,
            f"\r\n--{BOUNDARY}--\r\n".encode(),
        )
    )


async def signed_posts(
    base_url: str, data_dir: Path, count: int, size: int, mtom: bool = False
) -> list[tuple[str, str, bytes]]:
    pki = TestPki.load_or_create(data_dir)
    today = datetime.now(UTC).date()
    population = build_population(seed=DEFAULT_SEED, patients=2000, providers=200, today=today)
    gp = next(p for p in population.providers if p.kind == "GP")
    identity = pki.issue_provider(gp.nihii, gp.ssin, f"{gp.first_name} {gp.last_name}")
    keystore = data_dir / "bench-memory.p12"
    write_keystore(keystore, identity, "bench")
    requests = []
    async with ConnectorClient(base_url, keystore, "bench", ca_cert=pki.ca_cert_path) as client:
        assertion = await client.token()
        for index in range(count):
            content = os.urandom(size)  # incompressible: the deflated blob stays this large
            payload = ga_client.post_payload(
                client,
                content,
                message_name="HCPFAC",
                input_reference=f"{index:014d}",
                with_xades=True,
                moment=wire_now(),
            )
            to = ga_client.destination("300")
            request = ga_client.signed_request(
                client, assertion, "hcpfac", "post", payload, to=to, now=wire_now()
            )
            if mtom:
                request = (request[0], request[1], as_mtom(request[2]))
            requests.append(request)
    return requests


async def fire(
    base_url: str, requests: list[tuple[str, str, bytes]], content_type: str
) -> list[int]:
    async def one(session: aiohttp.ClientSession, path: str, action: str, body: bytes) -> int:
        headers = {"Content-Type": content_type, "SOAPAction": f'"{action}"'}
        async with session.post(base_url + path, data=body, headers=headers) as response:
            await response.read()
            return response.status

    timeout = aiohttp.ClientTimeout(total=600)
    connector = aiohttp.TCPConnector(limit=len(requests))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        return list(await asyncio.gather(*(one(session, *r) for r in requests)))


NEAR_LIMIT = (MAX_BODY_BYTES - 128 * 1024) * 3 // 4  # deflated, base64 (4/3): ~19.9 MB body
LARGEST_ACCEPTED = 7_400_000  # base64 ~9.9 MB: under libxml2's 10,000,000-byte text node


def latency_scenario(folder: Path, milliseconds: float) -> Path:
    """Every answer waits this long: all the concurrent requests are in flight together."""
    path = folder / "bench-memory.yaml"
    path.write_text(
        f"name: bench-memory\nlatency:\n  default: {{model: fixed, ms: {milliseconds}}}\n",
        encoding="utf-8",
    )
    return path


async def run(
    concurrency: int, rounds: int, sizes: list[int], mtom: bool, latency_ms: float
) -> None:
    with tempfile.TemporaryDirectory() as work:
        options = ["--scenario", str(latency_scenario(Path(work), latency_ms))]
        if latency_ms <= 0:
            options = ["--no-delay"]
        async with local_server(*options) as server:
            await measure(server, concurrency, rounds, sizes, mtom)


async def measure(
    server: LocalServer, concurrency: int, rounds: int, sizes: list[int], mtom: bool
) -> None:
    pid = server.process.pid
    worst = 0
    for number, size in enumerate(sizes * rounds, start=1):
        print(f"signing {concurrency} posts of {size / MB:.1f} MB of content ...", flush=True)
        requests = await signed_posts(server.base_url, server.data_dir, concurrency, size, mtom)
        largest = max(len(body) for _, _, body in requests)
        if largest > MAX_BODY_BYTES:
            raise SystemExit(f"a body is {largest} bytes, over the {MAX_BODY_BYTES} limit")
        await asyncio.sleep(0.5)
        before = status_kb(pid, "VmRSS")
        exact = reset_peak(pid)
        started = time.perf_counter()
        with Sampler(pid) as sampler:
            statuses = await fire(server.base_url, requests, MTOM_TYPE if mtom else SOAP_TYPE)
        elapsed = time.perf_counter() - started
        peak = max(status_kb(pid, "VmHWM") if exact else 0, sampler.peak_kb)
        worst = max(worst, peak)
        answers = ", ".join(f"{statuses.count(s)} x HTTP {s}" for s in sorted(set(statuses)))
        print(
            f"round {number}: {concurrency} bodies of {largest / MB:.1f} MB in {elapsed:.1f} s"
            f" ({answers}): RSS {before / 1024:.0f} MB before, peak "
            f"{peak / 1024:.0f} MB, {(peak - before) / 1024 / concurrency:.0f} MB per request"
            + ("" if exact else " (sampled every 5 ms: VmHWM could not be reset)"),
            flush=True,
        )
        del requests
    verdict = "met" if worst / 1024 < TARGET_MB else "NOT met"
    print(f"peak RSS {worst / 1024:.0f} MB: target < {TARGET_MB} MB -> {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="rounds of each size")
    parser.add_argument(
        "--size",
        type=int,
        action="append",
        help=f"content bytes of each post (repeatable; default {NEAR_LIMIT} near the limit, "
        f"then {LARGEST_ACCEPTED}, the largest accepted)",
    )
    parser.add_argument("--mtom", action="store_true", help="send the Detail as an MTOM part")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=1000.0,
        help="fixed latency of every answer, so that the requests are in flight together "
        "(default 1000; 0: --no-delay)",
    )
    args = parser.parse_args()
    sizes = args.size or [NEAR_LIMIT, LARGEST_ACCEPTED]
    asyncio.run(run(args.concurrency, args.rounds, sizes, args.mtom, args.latency_ms))


if __name__ == "__main__":
    main()
