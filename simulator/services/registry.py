"""Operations and their dispatch: path + SOAPAction / body root QName -> one operation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from lxml import etree

from simulator.soap import faults

if TYPE_CHECKING:
    from simulator.runtime import Simulator
    from simulator.server.exchange import Exchange


class TokenProfile(StrEnum):
    X509 = "x509"  # X.509 BinarySecurityToken: how clients call the STS
    SAML = "saml"  # SAML 1.1 holder-of-key from our STS: every MyCareNet service
    NONE = "none"


Handler = Callable[["Simulator", "Exchange"], Awaitable[etree._Element]]


@dataclass(frozen=True)
class Operation:
    service: str  # short service name used in the journal and the admin API, e.g. "etar"
    name: str  # operation name as in the WSDL
    path: str  # exactly the path of the real endpoint
    payload: str  # Clark name of the request's body root element
    soap_actions: frozenset[str]  # accepted SOAPAction values; "" = the header may be absent
    handler: Handler
    token: TokenProfile = TokenProfile.SAML
    sign_body: bool = True  # whether the client must sign the Body (GenAsync signs Timestamp only)
    request_schema: str | None = None  # kind checked by our own schemas
    response_schema: str | None = None


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
        if action not in operation.soap_actions:
            if action == "":
                raise faults.not_wsdl_conform(
                    f"the SOAPAction header is missing; {operation.name} expects "
                    f"{_expected_actions(operation)}"
                )
            raise faults.not_wsdl_conform(
                f"SOAPAction {action!r} does not match {operation.name}; expected "
                f"{_expected_actions(operation)}"
            )
        return operation


def _expected_actions(operation: Operation) -> str:
    actions = sorted(a for a in operation.soap_actions if a)
    return " or ".join(repr(a) for a in actions) or "no SOAPAction"


def normalise_soap_action(raw: str | None) -> str | None:
    """SOAPAction is sent quoted ("urn:...") by most stacks; compare without the quotes."""
    if raw is None:
        return None
    return raw.strip().strip('"').strip()
