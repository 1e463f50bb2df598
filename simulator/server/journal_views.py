"""One journal entry made readable: envelopes as indented XML, every blob inflated, the
business content in clear both ways (the answer as it was before it was sealed for the
requester), eFact files as records and zones, and the request as a curl command.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from lxml import etree

from simulator.clock import BRUSSELS
from simulator.codecs.blob import BlobError, decode_blob
from simulator.conformance.journal_view import pretty
from simulator.domain.population import Population
from simulator.server.efact_zones import efact_view, looks_like_efact
from simulator.soap.parser import XmlRejected, parse_xml
from simulator.store.base import JournalEntry

MAX_BLOBS = 20  # per direction (a GenAsync get may carry many messages)
MAX_BLOB_TEXT = 2 * 1024 * 1024


def decoded_view(
    entry: JournalEntry,
    base_url: str,
    population: Population | Callable[[date], Population] | None = None,
) -> dict[str, Any]:
    """Everything the detail page shows about `entry`, as JSON values. `population` (or how
    to build the world of a day, called only for a posted eFact file) checks eFact files."""
    day = business_day(entry.at)
    worlds: list[Population | None] = []  # built once, when first needed

    def world_of_day() -> Population | None:
        if not worlds:
            if callable(population):
                worlds.append(population(day) if day is not None else None)
            else:
                worlds.append(population)
        return worlds[0]

    blobs = _blobs(entry.request, "request") + _blobs(entry.response, "response")
    contents = {
        "request": _content(entry.request_content),
        "response": _content(entry.response_content),
    }
    efact: list[dict[str, Any]] = []
    for blob in blobs:
        raw = blob.pop("_raw", None)
        if isinstance(raw, bytes) and looks_like_efact(raw):
            checked = blob["direction"] == "request"
            view = efact_view(raw, day if checked else None, world_of_day() if checked else None)
            efact.append({"direction": blob["direction"], "where": blob["where"], **view})
    for direction in ("request", "response"):
        raw_text = getattr(entry, f"{direction}_content")
        if raw_text and looks_like_efact(raw_text.encode("latin-1", "replace")):
            view = efact_view(raw_text.encode("latin-1", "replace"), day, world_of_day())
            efact.append({"direction": direction, "where": "business content", **view})
    return {
        "id": entry.id,
        "summary": _summary(entry),
        "request_xml": pretty(entry.request),
        "response_xml": pretty(entry.response),
        "request_content": contents["request"],
        "response_content": contents["response"],
        "blobs": blobs,
        "efact": efact,
        "security": entry.security,
        "stages": entry.stages,
        "scenario": scenario_note(entry),
        "curl": curl_command(entry, base_url),
    }


def business_day(at: str) -> date | None:
    try:
        return datetime.fromisoformat(at).astimezone(BRUSSELS).date()
    except ValueError:
        return None


def scenario_note(entry: JournalEntry) -> str | None:
    """What the scenario stage noted (the rule that fired and its action), if it ran."""
    for stage in entry.stages:
        if stage.get("name") == "scenario":
            return str(stage.get("note") or "") or None
    return None


def curl_command(entry: JournalEntry, base_url: str) -> str:
    """The request again, as curl would send it. Its WS-Security Timestamp and signature are
    the original ones: sent again, it is a replay (allow_replay in a scenario lets it in)."""
    if not entry.request:
        return ""
    parts = ["curl", "-sS", "-X", "POST", f"{base_url.rstrip('/')}{entry.path}",
             "-H", "Content-Type: text/xml; charset=utf-8"]  # fmt: skip
    if entry.soap_action is not None:
        parts += ["-H", f'SOAPAction: "{entry.soap_action}"']
    parts += ["--data-binary", "@-"]
    body = entry.request if entry.request.endswith("\n") else entry.request + "\n"
    marker = "MYCARENET_SIM_REQUEST"
    return f"{shlex.join(parts)} <<'{marker}'\n{body}{marker}"


def _summary(entry: JournalEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "service": entry.service,
        "operation": entry.operation,
        "path": entry.path,
        "outcome": entry.outcome,
        "code": entry.code,
        "http_status": entry.http_status,
        "duration_ms": entry.duration_ms,
        "provider_nihii": entry.provider_nihii,
        "patient_ssin": entry.patient_ssin,
        "reference": entry.reference,
        "soap_action": entry.soap_action,
    }


def _content(text: str) -> dict[str, Any] | None:
    if not text:
        return None
    if text.lstrip().startswith("<"):
        return {"kind": "xml", "text": pretty(text), "codes": _business_codes(text)}
    return {"kind": "text", "text": text, "codes": []}


# Where business answers carry their code: KMEHR errors (cd S="CD-ERROR"), SAML StatusCode
# and the insurers' Fault/DetailCode, MyCareNet's Error/Code.
_CODE_XPATH = etree.XPath(
    "//*[local-name()='cd' and contains(@S,'ERROR')]/text()"
    " | //*[local-name()='StatusCode']/@Value"
    " | //*[local-name()='DetailCode' or local-name()='FaultCode']/text()"
    " | //*[local-name()='Error']/*[local-name()='Code']/text()"
    " | //*[local-name()='ErrorCode' or local-name()='errorCode']/text()"
)


def _business_codes(text: str) -> list[str]:
    """The codes the business content answers with, in document order, once each."""
    try:
        root = parse_xml(text.encode("utf-8"))
    except XmlRejected:
        return []
    found = _CODE_XPATH(root)
    codes: list[str] = []
    for value in found if isinstance(found, list) else []:
        code = str(value).strip()
        if code and code not in codes:
            codes.append(code)
    return codes


def _blobs(xml_text: str, direction: str) -> list[dict[str, Any]]:
    """Every base64 blob of an envelope (Detail and anything with a ContentEncoding)."""
    if not xml_text.strip():
        return []
    try:
        root = parse_xml(xml_text.encode("utf-8"))
    except XmlRejected:
        return []
    found: list[dict[str, Any]] = []
    tree = root.getroottree()
    for element in root.iter():
        if len(found) >= MAX_BLOBS:
            break
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if local != "Detail" and element.get("ContentEncoding") is None:
            continue
        text = (element.text or "").strip()
        if not text:
            continue
        found.append(_blob(element, text, direction, tree.getpath(element)))
    return found


def _blob(element: Any, text: str, direction: str, where: str) -> dict[str, Any]:
    encoding = element.get("ContentEncoding") or "none"
    sealed = element.get("ContentEncryption")
    blob: dict[str, Any] = {
        "direction": direction,
        "where": where,
        "encoding": encoding,
        "encryption": sealed,
        "content_type": element.get("ContentType"),
        "message_name": element.get("MessageName"),
        "text": None,
        "note": "",
    }
    try:
        raw = decode_blob(text, encoding, max_size=MAX_BLOB_TEXT)
    except BlobError as error:
        blob["note"] = f"cannot be decoded: {error}"
        return blob
    if sealed:
        blob["note"] = (
            f"sealed ({sealed}): the business content in clear is shown above, as the "
            "simulator unsealed it or wrote it before sealing"
        )
        return blob
    blob["_raw"] = raw
    if raw.lstrip().startswith(b"<"):
        blob["text"] = pretty(raw.decode("utf-8", errors="replace"))
    else:
        blob["text"] = raw.decode("latin-1")
    return blob
