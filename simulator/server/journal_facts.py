"""What the journal keeps of an exchange beyond its metadata: the request's reference (to
search by) and the business content in clear, as text.
"""

from __future__ import annotations

from simulator.server.exchange import Exchange

MAX_REFERENCE = 200


def reference_of(exchange: Exchange) -> str | None:
    """The vendor's own reference (CommonInput/InputReference, GenAsync's too), else the
    WS-Addressing MessageID of the envelope; None when there is neither (or no envelope).
    On the hot path: lxml's C iterators (~3 µs), not XPath (~30 µs)."""
    envelope = exchange.envelope
    if envelope is None:
        return None
    found = next(envelope.payload.iter("{*}InputReference"), None)
    if found is None or not (found.text or "").strip():
        header = envelope.root.find("{*}Header")
        found = None if header is None else next(header.iterchildren("{*}MessageID"), None)
    text = (found.text or "").strip() if found is not None else ""
    return text[:MAX_REFERENCE] or None


def content_text(content: bytes | None) -> str:
    """Business content as journal text: UTF-8 (XML, flat files), '' when there is none."""
    if not content:
        return ""
    return content.decode("utf-8", errors="replace")
