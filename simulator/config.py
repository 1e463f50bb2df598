"""Settings shared by the server and every command, with the embedded defaults."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

DEFAULT_DATA_DIR = Path(".mycarenet-sim")
DEFAULT_SEED = 20250901
DEFAULT_PORT = 8080
MAX_BODY_BYTES = 20 * 1024 * 1024
DEFAULT_SCENARIO = "default"


class SecurityMode(StrEnum):
    STRICT = "strict"  # every check enforced (the default for conformance)
    LENIENT = "lenient"  # checked and journaled, but the request is answered anyway
    OFF = "off"  # not checked at all


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    tls: bool = False
    seed: int = DEFAULT_SEED
    security_mode: SecurityMode = SecurityMode.STRICT
    xsd_dir: Path | None = None
    patients: int = 2000
    providers: int = 200
    max_body_bytes: int = MAX_BODY_BYTES
    # A shipped scenario's name or a scenario file's path; `--no-delay` zeroes its latencies.
    scenario: str = DEFAULT_SCENARIO
    no_delay: bool = False
    # Required by the admin API from callers not on loopback (None: a token is generated).
    admin_token: str | None = None

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"
