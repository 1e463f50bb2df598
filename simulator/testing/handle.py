"""A running simulator seen from a test: its URLs, keystores, clock, scenario and journal.

Everything goes through the admin API over HTTP, so the same handle drives a simulator the
plugin started in the test process and one running elsewhere (`--mycarenet-sim-url`).
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from simulator.client import ConnectorClient
from simulator.client.admin_api import AdminApi, AdminApiError
from simulator.client.dialects import CONNECTOR, Dialect
from simulator.client.eattest import PatientRef

KEYSTORE_PASSWORD = "mycarenet-sim"  # noqa: S105 (test keystores only)


# The admin API refused a call; the message is the server's own.
AdminCallError = AdminApiError


@dataclass(frozen=True)
class Keystore:
    """A provider's PKCS#12 as the simulator issued it."""

    path: Path
    password: str
    nihii: str
    ssin: str
    name: str


@dataclass
class SimulatorHandle:
    url: str  # base URL of the SOAP endpoints and of /__admin/
    work_dir: Path  # where keystores and the CA certificate are written
    admin_token: str | None = None

    # -- the admin API ----------------------------------------------------------------------
    def admin(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, **query: str
    ) -> Any:
        """Call `/__admin/<path>` with a JSON body; the decoded JSON answer."""
        target = f"/__admin/{path.lstrip('/')}"
        if query:
            target += "?" + urllib.parse.urlencode(query)
        api = AdminApi(self.url, self.admin_token or "")
        return api.call(method, target, dict(body) if body is not None else None)

    # -- state --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the journal and stored records, restart the scenario, real clock again."""
        self.admin("POST", "reset", {"clock": True})

    def set_date(self, when: date | datetime, *, frozen: bool = True) -> None:
        """Put the business clock on `when` (a date means 09:00 Brussels time that day).
        Signatures keep the real clock whatever the business date."""
        at = when if isinstance(when, datetime) else datetime(when.year, when.month, when.day, 9)
        self.admin("PUT", "clock", {"at": at.isoformat(), "frozen": frozen})

    def advance(self, *, days: float = 0, seconds: float = 0) -> None:
        self.admin("POST", "clock/advance", {"days": days, "seconds": seconds})

    def today(self) -> date:
        return date.fromisoformat(self.admin("GET", "clock")["today"])

    def now(self) -> datetime:
        return datetime.fromisoformat(self.admin("GET", "clock")["now"])

    @contextmanager
    def scenario(self, name_or_yaml: str) -> Iterator[None]:
        """Run a shipped scenario (by name) or a YAML text for the `with` block only."""
        self.use_scenario(name_or_yaml)
        try:
            yield
        finally:
            self.use_scenario("default")

    def use_scenario(self, name_or_yaml: str) -> None:
        if "\n" in name_or_yaml or ":" in name_or_yaml:
            self._put_yaml("scenario", name_or_yaml)
        else:
            self.admin("PUT", "scenario", {"shipped": name_or_yaml})

    def _put_yaml(self, path: str, text: str) -> None:
        headers = {"Content-Type": "application/yaml"}
        if self.admin_token:
            headers["Authorization"] = f"Bearer {self.admin_token}"
        request = urllib.request.Request(  # noqa: S310 (our URL)
            f"{self.url}/__admin/{path}", data=text.encode(), headers=headers, method="PUT"
        )
        try:
            with urllib.request.urlopen(request, timeout=60):  # noqa: S310
                pass
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            raise AdminApiError(error.code, "PUT", f"/__admin/{path}", detail) from None

    # -- the population -----------------------------------------------------------------------
    def patient(self, **wanted: Any) -> dict[str, Any]:
        """The first patient of the population whose summary has every `wanted` value, e.g.
        `patient(situation="random", bim=False, dmg_holder=None, insured_today=True)`."""
        offset = 0
        while True:
            page = self.admin("GET", "population", None, limit="1000", offset=str(offset))
            for patient in page["patients"]:
                if all(patient.get(key) == value for key, value in wanted.items()):
                    return dict(patient)
            offset += len(page["patients"])
            if not page["patients"] or offset >= page["total_patients"]:
                raise LookupError(f"the population has no patient with {wanted}")

    def patient_ref(self, **wanted: Any) -> PatientRef:
        """`patient(**wanted)` as the client's eAttest calls name a patient."""
        found = self.patient(**wanted)
        return PatientRef(found["ssin"], found["first_name"], found["last_name"], found["sex"])

    # -- providers and clients ----------------------------------------------------------------
    def keystore(
        self,
        kind: str = "GP",
        index: int = 0,
        *,
        nihii: str | None = None,
        ssin: str | None = None,
        key_type: str = "rsa",
    ) -> Keystore:
        """A keystore for the `index`-th provider of `kind` in the population, or for the
        given NIHII/SSIN (a provider the insurer does not know is served as a walk-in)."""
        body: dict[str, Any] = {"password": KEYSTORE_PASSWORD, "key_type": key_type}
        if nihii is not None or ssin is not None:
            body |= {"nihii": nihii, "ssin": ssin}
        else:
            body |= {"kind": kind, "index": index}
        issued = self.admin("POST", "keystores", body)
        path = self.work_dir / f"{issued['nihii']}-{issued['ssin']}-{key_type}.p12"
        path.write_bytes(base64.b64decode(issued["pkcs12_base64"]))
        self.ca_cert.write_text(issued["ca_pem"], encoding="ascii")
        return Keystore(path, KEYSTORE_PASSWORD, issued["nihii"], issued["ssin"], issued["name"])

    @property
    def ca_cert(self) -> Path:
        """The simulator's CA certificate (written when the first keystore is issued)."""
        return self.work_dir / "mycarenet-sim-ca.pem"

    def client(
        self, keystore: Keystore | None = None, *, dialect: Dialect = CONNECTOR
    ) -> ConnectorClient:
        """The package client for `keystore` (the first GP's by default), on the business
        clock of the simulator; use it as `async with sim.client() as client:`."""
        keystore = keystore or self.keystore()
        offset = self.now() - datetime.now(UTC)  # the business clock, running with ours
        return ConnectorClient(
            self.url,
            keystore.path,
            keystore.password,
            ca_cert=self.ca_cert,
            now=lambda: datetime.now(UTC) + offset,
            dialect=dialect,
        )

    # -- the journal --------------------------------------------------------------------------
    def journal(self, **filters: str) -> list[dict[str, Any]]:
        """Journal entries, oldest first (filters: service, operation, outcome, provider,
        patient, since, until)."""
        answer = self.admin("GET", "journal", None, limit="1000", **filters)
        return list(answer["entries"])

    def expect(
        self,
        *,
        service: str | None = None,
        operation: str | None = None,
        code: str | None = None,
        outcome: str | None = None,
        count: int | None = None,
    ) -> list[dict[str, Any]]:
        """Assert that the journal holds exchanges like this (exactly `count` of them when
        given, else at least one); returns them. The failure lists what was seen instead."""
        filters = {k: v for k, v in (("service", service), ("operation", operation),
                                     ("outcome", outcome)) if v is not None}  # fmt: skip
        entries = self.journal(**filters)
        found = [e for e in entries if code is None or e.get("code") == code]
        wanted = ", ".join(f"{k}={v}" for k, v in (*filters.items(), ("code", code)) if v)
        if (count is None and not found) or (count is not None and len(found) != count):
            seen = [
                f"{e['service']}.{e['operation']} {e['outcome']} {e.get('code') or ''}".strip()
                for e in self.journal()
            ]
            times = "at least one" if count is None else str(count)
            raise AssertionError(
                f"expected {times} exchange(s) with {wanted or 'anything'}, found {len(found)}; "
                f"the journal holds: {seen or 'nothing'}"
            )
        return found
