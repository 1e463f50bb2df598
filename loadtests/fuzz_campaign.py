"""A fuzz campaign against `mycarenet-sim serve` in a child process (issue 11).

Valid signed requests for every operation are captured once with the project's client
(tests/fuzz/corpus.py; re-signed every few minutes so that timestamps stay fresh under
--security strict), then mutated at the byte, XML and HTTP levels (tests/fuzz/mutators.py)
and sent as fast as the server answers. Printed at the end, per security mode and in total:
inputs sent, answers with traceback text, hangs (answers slower than --hang-seconds, and
timeouts), 5xx answers that are not SOAP faults, statuses outside the allowed set, the
server's RSS at start and end (and its peak), and what the server logged as unhandled
errors (each turned into SOA-00001), grouped by exception, with a reproducer saved for the
first of each kind of finding.

    python loadtests/fuzz_campaign.py --inputs 100000            # 80 % security off, 20 % strict
    python loadtests/fuzz_campaign.py --inputs 2000 --modes strict --findings /tmp/fuzz
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from loadtests.local_server import free_port  # noqa: E402
from simulator.config import Settings  # noqa: E402
from simulator.runtime import Simulator  # noqa: E402
from simulator.security.pki import write_keystore  # noqa: E402
from tests.fuzz.corpus import Seed, Signer, build_corpus, make_signer  # noqa: E402
from tests.fuzz.mutators import (  # noqa: E402
    ALLOWED_STATUSES,
    TRACEBACK,
    Fuzzed,
    RandomChooser,
    fuzz,
    is_soap_fault,
)

PASSWORD = "fuzz-campaign"
RESIGN_EVERY_S = 120.0
_UNHANDLED = re.compile(r"unhandled error while processing (\S+)")


@dataclass
class Figures:
    mode: str
    sent: int = 0
    tracebacks: int = 0
    hangs: int = 0
    timeouts: int = 0
    not_fault_5xx: int = 0
    bad_status: int = 0
    client_errors: int = 0
    rss_start_kb: int = 0
    rss_end_kb: int = 0
    rss_peak_kb: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    unhandled: Counter[str] = field(default_factory=Counter)
    slowest_s: float = 0.0
    saved: set[str] = field(default_factory=set)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def _rss(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of `pid` in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def _save(findings: Path | None, figures: Figures, kind: str, item: Fuzzed, status: int,
          answer: bytes) -> None:
    """The first input of each kind of finding, replayable with curl."""
    key = f"{figures.mode}-{kind}-{item.operation}"
    if findings is None or key in figures.saved:
        return
    figures.saved.add(key)
    findings.mkdir(parents=True, exist_ok=True)
    (findings / f"{key}.body").write_bytes(item.body)
    (findings / f"{key}.answer").write_bytes(answer[:20000])
    (findings / f"{key}.json").write_text(json.dumps({
        "path": item.path, "headers": dict(item.headers), "steps": list(item.steps),
        "status": status, "body": f"{key}.body",
    }, indent=2))  # fmt: skip


async def _campaign(args: argparse.Namespace, mode: str, inputs: int) -> Figures:
    figures = Figures(mode)
    with tempfile.TemporaryDirectory() as work:
        data_dir = Path(work) / "sim"
        sim = Simulator.create(Settings(data_dir=data_dir))
        gp = next(p for p in sim.population.providers if p.kind == "GP")
        identity = sim.pki.issue_provider(
            gp.nihii, gp.ssin, f"{gp.first_name} {gp.last_name}", "rsa"
        )
        keystore = Path(work) / "fuzz.p12"
        write_keystore(keystore, identity, PASSWORD)
        ca_cert, population, today = sim.pki.ca_cert_path, sim.population, sim.clock.today()
        sim.close()
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = Path(work) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "simulator", "serve", "--port", str(port),
                 "--data-dir", str(data_dir), "--security", mode, "--no-delay",
                 "--journal-bodies", "none"],
                cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
            try:
                await _wait(base_url, process)
                async def prepare() -> tuple[list[Seed], Signer]:
                    seeds = await build_corpus(base_url, keystore, PASSWORD, ca_cert,
                                               population, today)
                    return seeds, await make_signer(base_url, keystore, PASSWORD, ca_cert)

                prepared = await prepare()
                figures.rss_start_kb = _rss(process.pid)[0]
                await _drive(args, figures, base_url, prepared, inputs, prepare)
                figures.rss_end_kb, figures.rss_peak_kb = _rss(process.pid)
                async with aiohttp.ClientSession() as session, session.get(
                    base_url + "/__admin/health", timeout=aiohttp.ClientTimeout(total=10)
                ) as response:
                    if response.status != 200:
                        print(f"[{mode}] health check after the campaign: {response.status}")
            finally:
                process.terminate()
                process.wait(timeout=30)
        text = log_path.read_text(errors="replace")
        for block in re.split(r"(?m)^(?=\S+ \S+ ERROR )", text):
            found = _UNHANDLED.search(block)
            if found:
                last = [line for line in block.strip().splitlines() if line.strip()][-1]
                figures.unhandled[f"{found.group(1)}: {last.strip()[:160]}"] += 1
        if args.findings and figures.unhandled:
            args.findings.mkdir(parents=True, exist_ok=True)
            (args.findings / f"{mode}-server.log").write_text(text[-2_000_000:])
    return figures


async def _wait(base_url: str, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit(f"the server exited with {process.returncode}")
            try:
                async with session.get(base_url + "/__admin/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not become healthy within 60 s")


Prepared = tuple[list[Seed], Signer]


async def _drive(args: argparse.Namespace, figures: Figures, base_url: str, prepared: Prepared,
                 inputs: int, resign: Callable[[], Awaitable[Prepared]]) -> None:
    corpus: dict[str, Prepared] = {"now": prepared}
    resigned = [time.monotonic()]
    remaining = [inputs]
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=max(args.hang_seconds * 4, 30))

    async def worker(number: int, session: aiohttp.ClientSession) -> None:
        chooser = RandomChooser(random.Random(args.seed * 1000 + number))
        while remaining[0] > 0:
            remaining[0] -= 1
            seeds, signer = corpus["now"]
            item = fuzz(seeds, chooser, signer=signer)
            begin = time.monotonic()
            try:
                async with session.post(
                    base_url + item.path, data=item.body, headers=dict(item.headers),
                    skip_auto_headers=["Content-Type"], timeout=timeout,
                ) as response:
                    answer = await response.read()
                    status = response.status
            except TimeoutError:
                figures.sent += 1
                figures.timeouts += 1
                figures.hangs += 1
                _save(args.findings, figures, "timeout", item, 0, b"")
                continue
            except (aiohttp.ClientError, ValueError) as error:
                figures.client_errors += 1  # the client refused to send it (header rules)
                if not isinstance(error, ValueError):
                    _save(args.findings, figures, "connection", item, 0, repr(error).encode())
                continue
            elapsed = time.monotonic() - begin
            figures.sent += 1
            figures.statuses[status] += 1
            figures.slowest_s = max(figures.slowest_s, elapsed)
            if TRACEBACK.search(answer):
                figures.tracebacks += 1
                _save(args.findings, figures, "traceback", item, status, answer)
            if status >= 500 and not is_soap_fault(answer):
                figures.not_fault_5xx += 1
                _save(args.findings, figures, "5xx-not-fault", item, status, answer)
            if status not in ALLOWED_STATUSES:
                figures.bad_status += 1
                _save(args.findings, figures, f"status{status}", item, status, answer)
            if elapsed > args.hang_seconds:
                figures.hangs += 1
                _save(args.findings, figures, "hang", item, status, answer)
            if status == 500 and b"SOA-00001" in answer:
                _save(args.findings, figures, "internal-error", item, status, answer)

    async def refresh() -> None:
        while remaining[0] > 0:
            await asyncio.sleep(5)
            if time.monotonic() - resigned[0] > RESIGN_EVERY_S:
                corpus["now"] = await resign()
                resigned[0] = time.monotonic()

    async def progress() -> None:
        while remaining[0] > 0:
            await asyncio.sleep(30)
            elapsed = time.monotonic() - started
            print(f"[{figures.mode}] {figures.sent:,} sent, {figures.sent / elapsed:,.0f}/s, "
                  f"statuses {dict(figures.statuses.most_common(6))}", flush=True)

    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(worker(n, session)) for n in range(args.concurrency)]
        helpers = [asyncio.create_task(refresh()), asyncio.create_task(progress())]
        await asyncio.gather(*tasks)
        for helper in helpers:
            helper.cancel()
    figures.seconds = time.monotonic() - started


def _print(all_figures: list[Figures], hang_seconds: float) -> None:
    total = Figures("total")
    for f in all_figures:
        for name in ("sent", "tracebacks", "hangs", "timeouts", "not_fault_5xx", "bad_status",
                     "client_errors", "seconds"):
            setattr(total, name, getattr(total, name) + getattr(f, name))
        total.statuses.update(f.statuses)
        total.unhandled.update(f.unhandled)
    rows = [*all_figures, total] if len(all_figures) > 1 else all_figures
    print()
    print(f"{'':16}" + "".join(f"{f.mode:>14}" for f in rows))
    lines: list[tuple[str, Callable[[Figures], str]]] = [
        ("inputs sent", lambda f: f"{f.sent:,}"),
        ("inputs/s", lambda f: f"{f.rate:,.0f}"),
        ("tracebacks", lambda f: f"{f.tracebacks}"),
        (f"hangs (>{hang_seconds:g} s)", lambda f: f"{f.hangs}"),
        ("  of which t/o", lambda f: f"{f.timeouts}"),
        ("5xx non-fault", lambda f: f"{f.not_fault_5xx}"),
        ("status not ok", lambda f: f"{f.bad_status}"),
        ("unsendable", lambda f: f"{f.client_errors}"),
        ("unhandled (log)", lambda f: f"{sum(f.unhandled.values())}"),
        ("RSS start MB", lambda f: f"{f.rss_start_kb / 1024:,.0f}" if f.rss_start_kb else "-"),
        ("RSS end MB", lambda f: f"{f.rss_end_kb / 1024:,.0f}" if f.rss_end_kb else "-"),
        ("RSS peak MB", lambda f: f"{f.rss_peak_kb / 1024:,.0f}" if f.rss_peak_kb else "-"),
        ("slowest s", lambda f: f"{f.slowest_s:.2f}" if f.mode != "total" else "-"),
    ]
    for label, value in lines:
        print(f"{label:16}" + "".join(f"{value(f):>14}" for f in rows))
    print(f"\nstatuses: {dict(sorted(total.statuses.items()))}")
    if total.unhandled:
        print("server-logged unhandled errors (each answered SOA-00001):")
        for text, count in total.unhandled.most_common():
            print(f"  {count:6}  {text}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--modes", default="off,strict",
                        help="security modes, one server each, in order (default off,strict)")
    parser.add_argument("--strict-share", type=float, default=0.2,
                        help="share of the inputs for strict when both modes run (default 0.2)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--hang-seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--findings", type=Path, default=None,
                        help="directory for one reproducer per kind of finding")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    shares = {m: 1.0 / len(modes) for m in modes}
    if set(modes) == {"off", "strict"}:
        shares = {"strict": args.strict_share, "off": 1 - args.strict_share}
    results = []
    for mode in modes:
        count = round(args.inputs * shares[mode])
        print(f"[{mode}] {count:,} inputs", flush=True)
        results.append(asyncio.run(_campaign(args, mode, count)))
    _print(results, args.hang_seconds)


if __name__ == "__main__":
    main()
