"""The running scenario shared by every process on a PostgreSQL store.

Replacing or restarting the scenario through any worker's admin API stores it (with a new
version) and every other worker starts it afresh when notified (store/shared_state.py). The
scenario travels as it was loaded (a pickled `Scenario`: shipped file, uploaded YAML or a
conformance suite's, all alike), sealed with an HMAC whose key derives from the test CA's
private key: every worker of one simulator shares that key through its data dir, and
a value the key did not seal is refused, never unpickled. The rules' counters are shared too
(store/shared_counters.py), per version of the scenario.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import pickle
import threading
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization

from simulator.scenarios.model import Scenario
from simulator.security.pki import TestPki
from simulator.store.shared_counters import forget_before
from simulator.store.shared_state import SharedState

NAME = "scenario"
_MAC_BYTES = 32

log = logging.getLogger(__name__)


class ScenarioSealError(ValueError):
    pass


def sealing_key(pki: TestPki) -> bytes:
    """A key only holders of this simulator's PKI can derive."""
    der = pki.ca.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return hmac.new(der, b"mycarenet-sim shared scenario v1", hashlib.sha256).digest()


def seal(scenario: Scenario, key: bytes) -> bytes:
    data = pickle.dumps(scenario, protocol=pickle.HIGHEST_PROTOCOL)
    return hmac.new(key, data, hashlib.sha256).digest() + data


def unseal(raw: bytes, key: bytes) -> Scenario:
    mac, data = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    if not hmac.compare_digest(mac, hmac.new(key, data, hashlib.sha256).digest()):
        raise ScenarioSealError(
            "the stored scenario was not sealed by this simulator's PKI (another data dir?)"
        )
    scenario = pickle.loads(data)  # noqa: S301 - authenticated above: written by a worker
    if not isinstance(scenario, Scenario):
        raise ScenarioSealError("the stored scenario is not a Scenario")
    return scenario


class SharedScenario:
    """`apply(scenario, version)` starts a scenario in this process (its rule counters are
    those of `version`, store/shared_counters.py); `publish` stores it and applies it, the
    listener applies the ones other processes publish, newest version last."""

    def __init__(
        self, shared: SharedState, key: bytes, apply: Callable[[Scenario, int], None]
    ) -> None:
        self._shared = shared
        self._key = key
        self._apply = apply
        self._version = 0
        self._lock = threading.Lock()

    def join(self, initial: Scenario) -> None:
        """Run the stored scenario (`initial` when none is stored, or one this PKI did not
        seal), then follow the ones other processes publish."""
        stored = self._shared.read(NAME)
        if stored is None:
            self.publish(initial)
        else:
            try:
                self._changed(*stored)
            except (ScenarioSealError, pickle.UnpicklingError, AttributeError, ImportError):
                log.warning("the stored scenario cannot be used; %s runs instead", initial.name)
                self.publish(initial)
        self._shared.subscribe(NAME, self._changed)

    def publish(self, scenario: Scenario) -> None:
        """Run `scenario` afresh here and in every other process."""
        with self._lock:
            version, _ = self._shared.update(NAME, lambda _current: seal(scenario, self._key))
            self._version = max(self._version, version)
            self._apply(scenario, version)
        forget_before(self._shared.pool, version)

    def _changed(self, version: int, raw: bytes) -> None:
        with self._lock:
            if version <= self._version:
                return
            scenario = unseal(raw, self._key)
            self._version = version
            self._apply(scenario, version)
