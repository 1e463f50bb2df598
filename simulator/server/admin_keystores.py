"""Admin route that issues a care provider's keystore: POST /__admin/keystores.

Load generators and test harnesses on other machines get their keystores from the running
simulator instead of reading its data directory. The provider is named by NIHII (and SSIN
when it is not in the population), or picked from the population by kind and index ("the
third GP"). The certificate is recorded like `mycarenet-sim certs provider` records it: an
earlier keystore of the same NIHII keeps working (pki.py archives its certificate), while the
ETK depot serves the newest one.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.serialization import Encoding

from simulator.domain.identifiers import is_valid_nihii, is_valid_niss
from simulator.domain.population import Population, Provider
from simulator.runtime import Simulator
from simulator.security.pki import Identity, TestPki, profession_for_nihii, write_keystore
from simulator.server.admin_http import AdminError, Route, json_object

PATH = "/__admin/keystores"
KEYS = ("nihii", "ssin", "name", "kind", "index", "password", "key_type")
KEY_TYPES = ("rsa", "ec")
MAX_PASSWORD = 128
MAX_INDEX = 10**6
# Two issues for one NIHII at once would archive the same file twice (pki.py renames the
# current certificate aside): one issue at a time per process.
_ISSUING = threading.Lock()


@dataclass(frozen=True)
class KeystoreRequest:
    nihii: str
    ssin: str
    name: str | None
    profession: str | None  # from the population; None: read from the NIHII's digit
    password: str
    key_type: str


def parse_request(payload: dict[str, Any], population: Population) -> KeystoreRequest:
    """The provider to issue for; AdminError (400, 404) says what is wrong."""
    password = _text(payload, "password", required=True, limit=MAX_PASSWORD)
    assert password is not None
    key_type = _text(payload, "key_type") or "rsa"
    if key_type not in KEY_TYPES:
        raise AdminError(f"key_type must be one of {', '.join(KEY_TYPES)}, got {key_type!r}")
    name = _text(payload, "name", limit=64)
    nihii, ssin = _text(payload, "nihii"), _text(payload, "ssin")
    provider: Provider | None
    if nihii is None:
        if ssin is not None:
            raise AdminError("ssin needs nihii too (or give kind and index instead)")
        provider = _pick(payload, population)
    else:
        if "kind" in payload or "index" in payload:
            raise AdminError("give either nihii (and ssin) or kind (and index), not both")
        provider = population.provider(nihii) if ssin is None else None
        if ssin is None and (provider is None or provider.nihii != nihii):
            raise AdminError(
                f"NIHII {nihii} is not in the population: give its ssin too", status=404
            )
    if provider is not None:
        default_name = f"{provider.first_name} {provider.last_name}"
        return KeystoreRequest(
            provider.nihii,
            provider.ssin,
            name or _within_64_bytes(default_name),
            provider.profession,
            password,
            key_type,
        )
    assert nihii is not None and ssin is not None
    _check_identifiers(nihii, ssin)
    return KeystoreRequest(nihii, ssin, name, None, password, key_type)


def _within_64_bytes(name: str) -> str:
    # A certificate's OU holds 64 bytes at most (pki.provider_subject checks it).
    return name.encode("utf-8")[:64].decode("utf-8", "ignore")


def _pick(payload: dict[str, Any], population: Population) -> Provider:
    kind = _text(payload, "kind")
    if kind is None:
        raise AdminError('give "nihii" (and "ssin"), or "kind" (e.g. GP) and "index"')
    index = payload.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_INDEX:
        raise AdminError(f"index must be an integer from 0 to {MAX_INDEX}, got {index!r}")
    kinds = sorted({p.kind for p in population.providers})
    if kind.upper() not in kinds:
        raise AdminError(f"kind must be one of {', '.join(kinds)}, got {kind!r}", status=404)
    of_kind = population.providers_of_kind(kind.upper())
    if index >= len(of_kind):
        raise AdminError(
            f"the population has {len(of_kind)} providers of kind {kind.upper()}: index must "
            f"be below {len(of_kind)}",
            status=404,
        )
    return of_kind[index]


def _check_identifiers(nihii: str, ssin: str) -> None:
    if not (len(nihii) == 11 and nihii.isascii() and nihii.isdigit()):
        raise AdminError(f"nihii {nihii!r}: a NIHII has exactly 11 digits")
    if not is_valid_nihii(nihii):
        raise AdminError(f"nihii {nihii}: check digits do not match (mod 97 or mod 89)")
    if not (len(ssin) == 11 and ssin.isascii() and ssin.isdigit()):
        raise AdminError(f"ssin {ssin!r}: a NISS has exactly 11 digits")
    if not is_valid_niss(ssin, today=date.today()):
        raise AdminError(f"ssin {ssin}: check digits are wrong or the birth date is impossible")
    try:
        profession_for_nihii(nihii)
    except ValueError as error:
        raise AdminError(f"nihii {nihii}: {error}") from None


def _text(
    payload: dict[str, Any], key: str, *, required: bool = False, limit: int = 64
) -> str | None:
    if key not in payload:
        if required:
            raise AdminError(f'"{key}" is required')
        return None
    value = payload[key]
    if not isinstance(value, str) or not value or len(value) > limit:
        raise AdminError(f"{key} must be a string of 1 to {limit} characters, got {value!r}")
    return value


def issue(pki: TestPki, request: KeystoreRequest) -> tuple[Identity, bytes]:
    """The identity and its PKCS#12 keystore, written as `certs provider` writes it."""
    try:
        with _ISSUING:
            identity = pki.issue_provider(
                request.nihii, request.ssin, request.name, request.key_type, request.profession
            )
    except ValueError as error:  # e.g. a name beyond 64 bytes of UTF-8
        raise AdminError(str(error)) from None
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "keystore.p12"
        write_keystore(path, identity, request.password)
        return identity, path.read_bytes()


def keystore_view(pki: TestPki, request: KeystoreRequest) -> dict[str, Any]:
    identity, pkcs12 = issue(pki, request)
    return {
        "nihii": request.nihii,
        "ssin": request.ssin,
        "name": request.name,
        "subject": identity.cert.subject.rfc4514_string(),
        "password": request.password,
        "pkcs12_base64": base64.b64encode(pkcs12).decode("ascii"),
        "ca_pem": pki.ca.cert.public_bytes(Encoding.PEM).decode("ascii"),
    }


def register(app: web.Application, key: web.AppKey[Simulator], route: Route) -> None:
    async def issue_keystore(request: web.Request) -> web.Response:
        sim = request.app[key]
        wanted = parse_request(await json_object(request, KEYS), sim.population)
        # Key generation takes tens of milliseconds: off the event loop.
        loop = asyncio.get_running_loop()
        view = await loop.run_in_executor(None, keystore_view, sim.pki, wanted)
        return web.json_response(view, status=201)

    route("POST", PATH, issue_keystore)
