"""WS-Addressing 1.0 headers (wire-formats 1.10), as GenAsync clients send and expect them.

Requests carry Action, MessageID, To (`urn:nip:destination:io:<code>`), ReplyTo/FaultTo
anonymous; answers carry their own Action and MessageID and RelatesTo the request's MessageID.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from lxml import etree

from simulator.soap.envelope import Envelope
from simulator.soap.namespaces import WSA

ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
DESTINATION_PREFIX = "urn:nip:destination:io:"


@dataclass(frozen=True)
class Addressing:
    action: str | None = None
    message_id: str | None = None
    to: str | None = None
    relates_to: str | None = None

    @property
    def destination_io(self) -> str | None:
        """The IO code of `urn:nip:destination:io:<code>`; None when To is absent or empty."""
        if not self.to:
            return None
        if not self.to.startswith(DESTINATION_PREFIX):
            return None
        return self.to[len(DESTINATION_PREFIX) :] or None


def read_addressing(envelope: Envelope) -> Addressing:
    return Addressing(
        action=envelope.header_text(WSA, "Action"),
        message_id=envelope.header_text(WSA, "MessageID"),
        to=envelope.header_text(WSA, "To"),
        relates_to=envelope.header_text(WSA, "RelatesTo"),
    )


def request_headers(
    action: str, *, to: str | None, message_id: str | None = None
) -> list[etree._Element]:
    """Header blocks of a request, in the connector's order."""
    blocks = [
        _text("Action", action),
        _text("MessageID", message_id or f"uuid:{uuid.uuid4()}"),
    ]
    if to is not None:
        blocks.append(_text("To", to))
    for name in ("ReplyTo", "FaultTo"):
        block = etree.Element(f"{{{WSA}}}{name}", nsmap={"wsa": WSA})
        etree.SubElement(block, f"{{{WSA}}}Address").text = ANONYMOUS
        blocks.append(block)
    return blocks


def response_headers(action: str, request: Addressing) -> list[etree._Element]:
    """Header blocks of an answer: its Action, a fresh MessageID, RelatesTo and To anonymous."""
    blocks = [
        _text("Action", action),
        _text("MessageID", f"uuid:{uuid.uuid4()}"),
        _text("To", ANONYMOUS),
    ]
    if request.message_id:
        blocks.append(_text("RelatesTo", request.message_id))
    return blocks


def _text(name: str, value: str) -> etree._Element:
    element = etree.Element(f"{{{WSA}}}{name}", nsmap={"wsa": WSA})
    element.text = value
    return element
