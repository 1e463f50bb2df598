"""Journal entries built by hand, as the simulator would have recorded them."""

from __future__ import annotations

import itertools
from typing import Any

from simulator.codecs.blob import encode_blob
from simulator.store.base import JournalEntry

PATIENT = "93062644690"
OTHER = "74121595044"
PROVIDER = "10394044003"
_ids = itertools.count(1)

ENVELOPE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    '<p:Request xmlns:p="urn:test">{inner}</p:Request></soap:Body></soap:Envelope>'
)
FAULT = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>{reason}</faultstring>"
    "</soap:Fault></soap:Body></soap:Envelope>"
)


def envelope_with_detail(content: bytes, **attributes: str) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attributes.items())
    detail = f'<Detail ContentEncoding="deflate"{extra}>{encode_blob(content, "deflate")}</Detail>'
    return ENVELOPE.format(inner=detail)


def entry(
    service: str = "eattest",
    operation: str = "SendAttestation",
    *,
    outcome: str = "ok",
    code: str | None = None,
    patient: str | None = PATIENT,
    verdict: str = "valid",
    at: str = "2025-11-17T09:00:00+00:00",
    request: str = "",
    response: str = "",
    **more: Any,
) -> JournalEntry:
    return JournalEntry(
        at=at,
        service=service,
        operation=operation,
        path="/x",
        outcome=outcome,
        http_status=500 if outcome == "fault" else 200,
        duration_ms=1.0,
        code=code,
        provider_nihii=PROVIDER,
        patient_ssin=patient,
        security={"mode": "strict", "verdict": verdict},
        request=request or ENVELOPE.format(inner=""),
        response=response,
        id=next(_ids),
        **more,
    )
