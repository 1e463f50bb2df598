"""Locust load test: eFact batch submission through GenAsync, as a billing office does it.

Each simulated user is the population's first GP acting as third party (a billing office with
many workstations): it posts generated 920000 files to `hcpfac` (MessageName HCPFAC, addressed
to one insurer union) and collects the answers with `get` + `confirm`. Locust reports posts,
gets and confirms per second with their latencies; the `920098/920099 available` entries time
each file from its post to the arrival of its acceptance or rejection.

    pip install -e '.[load]'
    MYCARENET_EFACT_DELAYS=0,0,0 mycarenet-sim serve --no-delay --data-dir /tmp/sim &
    MYCARENET_SIM_DATA_DIR=/tmp/sim locust -f loadtests/locustfile_efact.py \\
        --host http://127.0.0.1:8080 --headless -u 20 -r 5 -t 1m

Settings (environment): MYCARENET_SIM_DATA_DIR (the server's data dir: keystores are issued
from its test PKI), EFACT_INVOICES (invoices per file, default 200), MYCARENET_SIM_SEED (the
server's --seed). Only the first file a day per insurer is accepted (domain-rules 6.5, 100724):
the others are refused whole (920099) after the same parsing, which is still the load to test.
"""

from __future__ import annotations

import io
import itertools
import os
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from locust import HttpUser, between, events, task
from lxml import etree

from simulator.client import ConnectorClient
from simulator.client import genasync as ga
from simulator.codecs import genasync as codec
from simulator.codecs import sts as sts_codec
from simulator.config import DEFAULT_SEED, Settings
from simulator.domain.population import Population, Provider, build_population
from simulator.efact.generator import Spec, generate
from simulator.efact.parser import parse
from simulator.security.pki import TestPki, write_keystore
from simulator.soap.envelope import read_envelope, serialize
from simulator.soap.parser import parse_xml

PASSWORD = "locust"
UNIONS = ("100", "200", "300", "400", "500")
STS_PATH = "/IAM/SecurityTokenService/v1"
ANSWERS = ("920098", "920099")
_sending_numbers = itertools.count(1)
# Input reference -> when its file was posted; shared, as any user may collect any answer.
_posted: dict[str, float] = {}


@cache
def _world() -> tuple[Population, Provider, Path, Path]:
    """The server's population and a keystore for its first GP (made once per process)."""
    data_dir = Path(os.environ.get("MYCARENET_SIM_DATA_DIR", Settings().data_dir))
    seed = int(os.environ.get("MYCARENET_SIM_SEED", DEFAULT_SEED))
    defaults = Settings()
    population = build_population(
        seed=seed,
        patients=defaults.patients,
        providers=defaults.providers,
        today=datetime.now(UTC).date(),
    )
    gp = population.providers_of_kind("GP")[0]
    pki = TestPki.load_or_create(data_dir)
    keystore = data_dir / f"locust-{gp.nihii}.p12"
    identity = pki.issue_provider(gp.nihii, gp.ssin, f"{gp.first_name} {gp.last_name}", "rsa")
    write_keystore(keystore, identity, PASSWORD)
    return population, gp, keystore, pki.ca_cert_path


class BillingOffice(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        population, _, keystore, ca = _world()
        self.population = population
        self.connector = ConnectorClient(self.host or "", keystore, PASSWORD, ca_cert=ca)
        self.assertion = self._token()

    def _token(self) -> etree._Element:
        body = serialize(self.connector.token_request(datetime.now(UTC)))
        reply = self.client.post(STS_PATH, data=body, headers=_headers(""), name="sts")
        return sts_codec.read_assertion(read_envelope(parse_xml(reply.content)).payload)

    def _call(
        self, operation: str, payload: etree._Element, *, to: str | None
    ) -> etree._Element | None:
        """The answer's payload; a fault or a bad signature counts as a failure (None)."""
        now = datetime.now(UTC)
        path, action, body = ga.signed_request(
            self.connector, self.assertion, "hcpfac", operation, payload, to=to, now=now
        )
        headers = _headers(action)
        with self.client.post(
            path, data=body, headers=headers, name=operation, catch_response=True
        ) as reply:
            try:
                answer = ga.read_answer(self.connector, reply.status_code, reply.content, now=now)
            except (ga.GenAsyncFaultError, ValueError) as error:
                reply.failure(str(error))
                return None
            reply.success()
            return answer

    @task(1)
    def post_a_file(self) -> None:
        number = next(_sending_numbers)
        union = UNIONS[number % len(UNIONS)]
        out = io.BytesIO()
        spec = Spec(
            invoices=int(os.environ.get("EFACT_INVOICES", "200")),
            seed=number,
            today=datetime.now(UTC).date(),
            insurer=union,
            sending_number=number % 1000 or 1000,
        )
        generate(out, self.population, spec)
        content = out.getvalue()
        # The insurer's answers carry the file's own reference (segment 200, zone 204).
        reference = parse(content)[0].zone200("204")
        payload = ga.post_payload(
            self.connector,
            content,
            message_name="HCPFAC",
            input_reference=reference,
            with_xades=True,
            moment=datetime.now(UTC),
        )
        started = time.perf_counter()
        if self._call("post", payload, to=ga.destination(union)) is not None:
            _posted[reference] = started

    @task(3)
    def collect_answers(self) -> None:
        request = codec.GetRequest(
            origin=ga.origin_of(self.connector),
            msg_query=codec.Query(True, 100),
            message_names=(),
            tack_query=codec.Query(True, 100),
        )
        answer = self._call("get", codec.build_get(request), to=None)
        if answer is None:
            return
        found = codec.parse_get_response(answer)
        if not found.messages and not found.tacks:
            return
        for message in found.messages:
            self._time_answer(message.detail.content, message.common.input_reference)
        confirm = codec.ConfirmRequest(
            origin=ga.origin_of(self.connector),
            msg_hash_values=(),
            msg_references=tuple(m.detail.reference or "" for m in found.messages),
            tack_contents=tuple(t.tack.content for t in found.tacks),
            tack_references=(),
        )
        self._call("confirm", codec.build_confirm(confirm), to=None)

    def _time_answer(self, content: bytes, reference: str | None) -> None:
        kind = content[:6].decode("ascii", "replace")
        if kind not in ANSWERS:  # the 931000 receipt comes first: keep waiting
            return
        started = _posted.pop(reference or "", None)
        if started is not None:
            events.request.fire(
                request_type="eFact",
                name=f"{kind} available",
                response_time=(time.perf_counter() - started) * 1000,
                response_length=len(content),
                exception=None,
                context={},
            )


def _headers(action: str) -> dict[str, str]:
    return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
