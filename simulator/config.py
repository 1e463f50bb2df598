"""Settings shared by the server and every command, with the embedded defaults."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

DEFAULT_DATA_DIR = Path(".mycarenet-sim")
DEFAULT_SEED = 20250901
DEFAULT_PORT = 8080
MAX_BODY_BYTES = 20 * 1024 * 1024
DEFAULT_SCENARIO = "default"
# Journal retention (`serve --journal-*`). A signed eTar exchange costs ~2.6 KB of journal on
# disk with its bodies (2.1 KB of them compressed, store/sqlite.py; loadtests/bench_soak.py:
# 2,640 B a request over 100k) and ~0.6 KB without: 500,000 rows are ~1.3 GB at most, so a
# million requests stay under 2 GB; `--journal-bodies errors` fits 4x more rows in as much.
DEFAULT_JOURNAL_BODIES: Literal["none", "errors", "all"] = "all"
DEFAULT_JOURNAL_MAX_ROWS = 500_000
DEFAULT_JOURNAL_MAX_AGE_S = 7 * 24 * 3600.0
DEFAULT_READ_TIMEOUT_S = 60.0
# `tls_client_ca` value meaning the simulator's own test CA (the one that issues keystores).
TEST_CA: Literal["test-ca"] = "test-ca"


class SecurityMode(StrEnum):
    STRICT = "strict"  # every check enforced (the default for conformance)
    LENIENT = "lenient"  # checked and journaled, but the request is answered anyway
    OFF = "off"  # not checked at all


class ResponseSecurity(StrEnum):
    """What the answers' wsse:Security header holds."""

    FULL = "full"  # Timestamp, BinarySecurityToken, Signature over Body+Timestamp+BST
    # Timestamp only: eHI's library-core (`Helper/WSS.cs VerifyResponse`) throws for any
    # other child of the answer's wsse:Security (client-quirks, response side).
    TIMESTAMP_ONLY = "timestamp-only"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    tls: bool = False
    seed: int = DEFAULT_SEED
    security_mode: SecurityMode = SecurityMode.STRICT
    # `full` still answers a request made by eHI's library-core with a Timestamp only (see
    # security/wssecurity.py `response_profile_for`).
    response_security: ResponseSecurity = ResponseSecurity.FULL
    # The STS token answer's body: `rstr` (RequestSecurityTokenResponse, what EGK and EC parse;
    # the connector reads either) or `rstrc` (...Collection). A SignChallenge is always an RSTR.
    sts_response: Literal["rstr", "rstrc"] = "rstr"
    xsd_dir: Path | None = None
    patients: int = 2000
    providers: int = 200
    max_body_bytes: int = MAX_BODY_BYTES
    # A shipped scenario's name or a scenario file's path; `--no-delay` zeroes its latencies.
    scenario: str = DEFAULT_SCENARIO
    no_delay: bool = False
    # Required by the admin API from callers not on loopback (None: a token is generated).
    admin_token: str | None = None
    # The journal: which rows keep their bodies, how many rows and how old (None: no limit).
    journal_bodies: Literal["none", "errors", "all"] = DEFAULT_JOURNAL_BODIES
    journal_max_rows: int | None = DEFAULT_JOURNAL_MAX_ROWS
    journal_max_age_s: float | None = DEFAULT_JOURNAL_MAX_AGE_S
    # Seconds a client has to send a request's head (from connecting or from the previous
    # answer, so idle keep-alive connections close then too) and then its body.
    read_timeout: float = DEFAULT_READ_TIMEOUT_S
    # mTLS: with TLS on, clients must present a certificate issued by this CA (a PEM file, or
    # TEST_CA for the simulator's own); None: no client certificate asked for.
    tls_client_ca: Path | Literal["test-ca"] | None = None
    # Where the state lives: None for SQLite in the data dir (one process); a PostgreSQL URL
    # (`serve --store`) for several processes sharing one world (store/backends.py).
    store_url: str | None = None

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"
