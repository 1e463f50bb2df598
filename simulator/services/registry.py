"""Operations and their dispatch: path + SOAPAction / body root QName -> one operation."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from lxml import etree

from simulator.soap import faults
from simulator.soap.envelope import Envelope

if TYPE_CHECKING:
    from simulator.runtime import Simulator
    from simulator.server.exchange import Exchange


class TokenProfile(StrEnum):
    X509 = "x509"  # X.509 BinarySecurityToken: how clients call the STS
    SAML = "saml"  # SAML 1.1 holder-of-key from our STS: every MyCareNet service
    NONE = "none"


Handler = Callable[["Simulator", "Exchange"], Awaitable[etree._Element]]
# A service's own rendering of a fault (GenAsync's ga:fault): the whole envelope, from the
# fault, the operation name when dispatch got that far, and the request's envelope when it
# was read (its WS-Addressing MessageID is what the fault RelatesTo).
FaultRenderer = Callable[[faults.SoapFault, str | None, Envelope | None], etree._Element]


@dataclass(frozen=True)
class Operation:
    service: str  # short service name used in the journal and the admin API, e.g. "etar"
    name: str  # operation name as in the WSDL
    path: str  # exactly the path of the real endpoint
    payload: str  # Clark name of the request's body root element
    soap_actions: frozenset[str]  # SOAPAction values it answers to; absent or "" always does
    handler: Handler
    token: TokenProfile = TokenProfile.SAML
    sign_body: bool = True  # whether the client must sign the Body (GenAsync signs Timestamp only)
    request_schema: str | None = None  # kind checked by our own schemas
    response_schema: str | None = None
    # None: faults on this path are the ESB's (SOA detail). Set: the service renders them,
    # and they are secured (signed) like its other answers.
    render_fault: FaultRenderer | None = None


class Registry:
    def __init__(self, operations: Iterable[Operation]) -> None:
        self._by_path: dict[str, list[Operation]] = {}
        for operation in operations:
            self._by_path.setdefault(operation.path, []).append(operation)

    @property
    def paths(self) -> list[str]:
        return sorted(self._by_path)

    def operations(self) -> list[Operation]:
        return [op for path in self.paths for op in self._by_path[path]]

    def operation_names(self) -> dict[str, set[str]]:
        """Service name -> its operation names, what scenario files may match on."""
        names: dict[str, set[str]] = {}
        for operation in self.operations():
            names.setdefault(operation.service, set()).add(operation.name)
        return names

    def knows_path(self, path: str) -> bool:
        return path in self._by_path

    def fault_envelope(
        self,
        path: str,
        fault: faults.SoapFault,
        operation: str | None,
        request: Envelope | None = None,
    ) -> etree._Element | None:
        """The fault as the service at `path` renders it; None where the ESB answers."""
        render = next(
            (op.render_fault for op in self._by_path.get(path, ()) if op.render_fault), None
        )
        return render(fault, operation, request) if render is not None else None

    def resolve(self, path: str, soap_action: str | None, payload: etree._Element) -> Operation:
        """Pick the operation the client asked for, or raise the fault the ESB would send."""
        candidates = self._by_path.get(path)
        if not candidates:
            raise faults.SoapFault(
                "SOA-03005", f"no service is published at {path}", http_status=404
            )
        tag = payload.tag if isinstance(payload.tag, str) else ""
        by_payload = [op for op in candidates if op.payload == tag]
        if not by_payload:
            expected = ", ".join(sorted({op.payload for op in candidates}))
            raise faults.not_wsdl_conform(
                f"body element {tag} is not an operation of {path}; expected one of: {expected}"
            )
        operation = by_payload[0]
        action = soap_action or ""
        # No SOAPAction (SAAJ sends no header at all for MemberData and GenAsync, and WS-I
        # allows ""): the body root already named the operation (client-quirks #1). A
        # SOAPAction that names something else is still refused, as the ESB does.
        if action and action not in operation.soap_actions:
            raise faults.not_wsdl_conform(
                f"SOAPAction {action!r} does not match {operation.name}; expected "
                f"{_expected_actions(operation)}"
            )
        return operation


def _expected_actions(operation: Operation) -> str:
    actions = sorted(a for a in operation.soap_actions if a)
    return " or ".join(repr(a) for a in actions) or "no SOAPAction"


def normalise_soap_action(raw: str | None) -> str | None:
    """SOAPAction is sent quoted ("urn:...") by most stacks; compare without the quotes.

    HTTP hands header bytes over as Latin-1; a client that wrote UTF-8 gets its text back
    (so that a fault quoting the value shows what was sent, not mojibake)."""
    if raw is None:
        return None
    with contextlib.suppress(UnicodeError):  # not UTF-8 bytes: keep the Latin-1 reading
        raw = raw.encode("latin-1").decode("utf-8")
    return raw.strip().strip('"').strip()
