"""GenAsync mailboxes: what providers posted, and what waits for them until they confirm it.

Everything lives in `sim.records` (committed before returning), so a message a client was told
about survives a SIGKILL, and a confirmed one (deleted) never comes back. Keys are
`<mailbox>/<nihii>/<sequence>`: one prefix scan lists a provider's mailbox in delivery order.

`deliver` (`deliver_answer` for an answer written as it was produced) is how the insurer's
processing (eFact 931000/920098/920099/920900) puts an answer in a provider's mailbox; it signs
the answer with XAdES-T at delivery, once, as MyCareNet does. Posted contents and answers are
kept in parts beside their documents (`mailbox_contents.py`).
"""

from __future__ import annotations

import base64
import time
import uuid
import weakref
from dataclasses import dataclass

from lxml import etree

from simulator.codecs import genasync as codec
from simulator.codecs.blob import decode_blob
from simulator.runtime import Simulator
from simulator.security.pki import Identity, TestPki
from simulator.security.xades import issue_tsa, sign_blob
from simulator.services.mailbox_contents import (
    POSTED_PARTS,
    Answer,
    PostedFile,
    detail_text,
    forget_parts,
)
from simulator.store.parts import put_parts

MESSAGES = "genasync-message"  # waiting for the recipient's get/confirm
TACKS = "genasync-tack"  # TAcks of posts, returned by get's TAckQuery until confirmed
POSTED = "genasync-posted"  # what providers posted, for the insurer's processing
_SCAN_LIMIT = 1_000_000  # a mailbox is read whole and filtered; Max applies afterwards
_NO_LIMIT = 1 << 40


@dataclass(frozen=True)
class Mailbox:
    name: str  # last path segment: hcpfac, hcpfac_12, gmd
    path: str
    default_io: str | None  # destination when wsa:To names none
    post_names: frozenset[str] | None  # MessageNames accepted on post; None = any
    requires_xades: bool  # strict mode refuses a post without Xades-t
    # MyCareNet routes each item of the post by its content, not by wsa:To (async MemberData:
    # every AttributeQuery goes to its member's insurer; FHC sends no wsa:To at all).
    routes_by_content: bool = False


MAILBOXES: dict[str, Mailbox] = {
    box.name: box
    for box in (
        Mailbox("hcpfac", "/mycarenet-ws/async/generic/hcpfac", None, frozenset({"HCPFAC"}), True),
        # MediPrima invoicing goes to CAAMI/HZIV, IO 690 (wire-formats 7.4).
        Mailbox(
            "hcpfac_12",
            "/mycarenet-ws/async/generic/hcpfac_12",
            "690",
            frozenset({"ECM-HCPFAC"}),
            True,
        ),
        Mailbox("gmd", "/mycarenet-ws/async/generic/gmd", None, None, False),
        # Async MemberData (wire-formats 1.1 and 2.2; FHC/IFHC `MemberDataServiceImpl.kt
        # sendMemberDataRequest`): an AttributeQueryList as MessageName MDA, no Xades-t.
        Mailbox(
            "memberData",
            "/mycarenet/bed/GenAsync/memberData",
            None,
            frozenset({"MDA"}),
            False,
            routes_by_content=True,
        ),
    )
}
# CommonOutput NIPReference/OutputReference are StringReferenceType: at most 14 characters
# (commonInfo-v2.xsd of the GenAsync WSDL bundle).
REFERENCE_LENGTH = 14


@dataclass(frozen=True)
class Stored:
    """A message or TAck as kept in the store, with its record key."""

    key: str
    document: dict[str, object]


# -- the TSA ----------------------------------------------------------------------------------

_TSAS: weakref.WeakKeyDictionary[TestPki, Identity] = weakref.WeakKeyDictionary()


def tsa_of(sim: Simulator) -> Identity:
    """The simulated eHealth TSA for XAdES-T, issued once per process under the test CA."""
    tsa = _TSAS.get(sim.pki)
    if tsa is None:
        tsa = issue_tsa(sim.pki.ca, now=sim.wire_now())
        _TSAS[sim.pki] = tsa
    return tsa


def xades_t(
    sim: Simulator, element: etree._Element, content_sha256: bytes | None = None
) -> bytes:
    """XAdES-T by MyCareNet's signing identity over a Blob or TAck element (by its Id)."""
    signer = sim.pki.insurer_signing
    return sign_blob(
        element,
        key=signer.key,
        cert=signer.cert,
        signing_time=sim.wire_now(),
        with_timestamp=True,
        tsa=tsa_of(sim),
        content_sha256=content_sha256,
    )


# -- writing ----------------------------------------------------------------------------------


def deliver(
    sim: Simulator,
    mailbox: str,
    recipient_nihii: str,
    message_name: str,
    content: bytes,
    *,
    issuer_io: str | None = None,
    input_reference: str | None = None,
    content_type: str = "text/plain",
    content_encoding: str = "deflate",
    content_encryption: str | None = None,
) -> str:
    """Put `content` in `recipient_nihii`'s `mailbox`; returns its Reference (Detail@Reference).

    `content_encryption` names how `content` is sealed (encryptedForKnownRecipient)."""
    _known(mailbox)
    with Answer(sim, content_encoding) as answer:
        answer.write(content)
    return deliver_answer(
        sim, mailbox, recipient_nihii, message_name, answer,
        issuer_io=issuer_io, input_reference=input_reference, content_type=content_type,
        content_encryption=content_encryption,
    )  # fmt: skip


def deliver_answer(
    sim: Simulator,
    mailbox: str,
    recipient_nihii: str,
    message_name: str,
    answer: Answer,
    *,
    issuer_io: str | None = None,
    input_reference: str | None = None,
    content_type: str = "text/plain",
    content_encryption: str | None = None,
) -> str:
    """Put the written (closed) `answer` in `recipient_nihii`'s `mailbox`, XAdES-T signed once
    as MyCareNet does; returns its Reference (Detail@Reference)."""
    _known(mailbox)
    if not answer.closed:
        raise ValueError("an answer is delivered once it is written whole (closed)")
    reference = answer.reference
    blob = codec.Blob(
        content=b"",
        message_name=message_name,
        content_type=content_type,
        content_encoding=answer.content_encoding,
        id=f"_{reference}",
        reference=reference,
        issuer=f"{codec.ISSUER_PREFIX}{issuer_io}" if issuer_io else None,
        hash_value=answer.hash_value,
        encoded=detail_text(sim, reference, answer.parts),
        content_encryption=content_encryption,
    )
    detail = codec.add_blob(etree.Element("holder"), "Detail", blob)
    document: dict[str, object] = {
        "reference": reference,
        "message_name": message_name,
        # The Detail as signed and sent is in parts (MESSAGE_PARTS), deflated once: a 920098
        # echoes every record in 800 bytes but deflates some twenty-fold, and a mailbox is
        # listed without reading it.
        "detail_parts": answer.parts,
        "content_type": content_type,
        "content_encoding": answer.content_encoding,
        "content_encryption": content_encryption,
        "hash": answer.hash_value,
        "issuer_io": issuer_io,
        "input_reference": input_reference,
        "xades": base64.b64encode(xades_t(sim, detail, answer.sha256)).decode("ascii"),
        "delivered_at": sim.clock.now().isoformat(),
    }
    sim.records.put(MESSAGES, _key(mailbox, recipient_nihii), document)
    return reference


def _known(mailbox: str) -> None:
    if mailbox not in MAILBOXES:
        raise ValueError(f"unknown GenAsync mailbox {mailbox!r}; known: {', '.join(MAILBOXES)}")


def keep_tack(sim: Simulator, mailbox: str, sender_nihii: str, tack: codec.TAck) -> None:
    """Keep a post's TAck (XAdES-T signed) so the sender's get/TAckQuery returns it."""
    element = codec.build_post_response(tack)[0]
    document: dict[str, object] = {
        "content": base64.b64encode(tack.content).decode("ascii"),
        "issuer": tack.issuer,
        "applies_to": tack.applies_to,
        "result_major": tack.result_major,
        "result_message": tack.result_message,
        "id": tack.id,
        "reference": tack.reference,
        "xades": base64.b64encode(xades_t(sim, element)).decode("ascii"),
    }
    sim.records.put(TACKS, _key(mailbox, sender_nihii), document)


def keep_post(
    sim: Simulator,
    mailbox: str,
    reference: str,
    sender_nihii: str,
    destination_io: str,
    request: codec.PostRequest,
) -> None:
    key = f"{mailbox}/{reference}"
    sim.records.put(
        POSTED,
        key,
        {
            "reference": reference,
            "sender_nihii": sender_nihii,
            "destination_io": destination_io,
            "message_name": request.detail.message_name,
            "input_reference": request.common.input_reference,
            "is_test": request.common.is_test,
            # The content in parts (POSTED_PARTS): the processing streams it.
            "size": len(request.detail.content),
            "parts": put_parts(sim.records, POSTED_PARTS, key, request.detail.content),
            "received_at": sim.clock.now().isoformat(),
        },
    )


# -- reading ----------------------------------------------------------------------------------


def posted_file(sim: Simulator, mailbox: str, reference: str) -> PostedFile:
    """The content posted as `reference` to `mailbox`; KeyError when there is none."""
    key = f"{mailbox}/{reference}"
    document = sim.records.get(POSTED, key)
    if document is None:
        raise KeyError(f"no posted message {reference!r} in {mailbox}")
    if "parts" not in document:  # kept whole by a version before parts
        whole = base64.b64decode(str(document["content"]))
        return PostedFile(sim, key, len(whole), None, whole)
    return PostedFile(sim, key, int(document["size"]), int(document["parts"]))


def waiting_messages(sim: Simulator, mailbox: str, nihii: str) -> list[Stored]:
    """Every unconfirmed message for `nihii`, oldest first."""
    return _scan(sim, MESSAGES, mailbox, nihii)


def waiting_tacks(sim: Simulator, mailbox: str, nihii: str) -> list[Stored]:
    return _scan(sim, TACKS, mailbox, nihii)


def posted(sim: Simulator, mailbox: str) -> list[dict[str, object]]:
    """What providers posted to `mailbox`, in reference order (the eFact processing reads it)."""
    return [doc for _, doc in sim.records.find(POSTED, prefix=f"{mailbox}/", limit=_SCAN_LIMIT)]


def message_content(sim: Simulator, document: dict[str, object]) -> bytes:
    """The content of a stored message (older stores kept the Detail text in the document, or
    the content in clear, base64 only)."""
    detail = _stored_detail(sim, document)
    if detail is None:
        return base64.b64decode(str(document["content"]))
    encoding = str(document["content_encoding"])
    # Our own answers: no size limit (a 920098 may be larger than a client may post).
    return decode_blob(detail, encoding, max_size=_NO_LIMIT)


def _stored_detail(sim: Simulator, document: dict[str, object]) -> str | None:
    if "detail_parts" in document:
        return detail_text(sim, str(document["reference"]), int(str(document["detail_parts"])))
    detail = document.get("detail")
    return None if detail is None else str(detail)


def message_of(sim: Simulator, stored: Stored, *, with_content: bool = True) -> codec.MsgResponse:
    """The stored message as `get` returns it. Without content (what `get` needs: the Detail
    text and its hash as stored), a large answer is not inflated on the event loop again."""
    doc = stored.document
    issuer = doc.get("issuer_io")
    detail = _stored_detail(sim, doc)
    lean = not with_content and detail is not None
    blob = codec.Blob(
        content=b"" if lean else message_content(sim, doc),
        message_name=str(doc["message_name"]),
        content_type=str(doc["content_type"]),
        content_encoding=str(doc["content_encoding"]),
        id=f"_{doc['reference']}",
        reference=str(doc["reference"]),
        issuer=f"{codec.ISSUER_PREFIX}{issuer}" if issuer else None,
        encoded=detail,
        content_encryption=_optional(doc.get("content_encryption")),
        hash_value=str(doc["hash"]) if lean else None,
    )
    # The Reference is a 32-hex uuid; its first 14 characters stay unique enough to name it
    # in CommonOutput, whose schema allows no more (older stored messages included).
    short = str(doc["reference"])[:REFERENCE_LENGTH]
    output = codec.CommonOutput(
        input_reference=_optional(doc.get("input_reference")),
        nip_reference=short,
        output_reference=short,
    )
    return codec.MsgResponse(output, blob, base64.b64decode(str(doc["xades"])))


def tack_of(stored: Stored) -> codec.TAckResponse:
    doc = stored.document
    tack = codec.TAck(
        content=base64.b64decode(str(doc["content"])),
        issuer=str(doc["issuer"]),
        applies_to=str(doc["applies_to"]),
        result_major=str(doc["result_major"]),
        result_message=_optional(doc.get("result_message")),
        id=_optional(doc.get("id")),
        reference=_optional(doc.get("reference")),
    )
    return codec.TAckResponse(tack, base64.b64decode(str(doc["xades"])))


# -- confirming -------------------------------------------------------------------------------


def confirm(
    sim: Simulator, mailbox: str, nihii: str, request: codec.ConfirmRequest
) -> tuple[int, int]:
    """Remove the confirmed messages and TAcks; unknown or already confirmed ones are ignored
    (confirm is idempotent). Returns how many messages and TAcks were removed now."""
    hashes = set(request.msg_hash_values)
    references = set(request.msg_references)
    removed_messages = 0
    for stored in waiting_messages(sim, mailbox, nihii):
        doc = stored.document
        digest = base64.b64decode(str(doc["hash"]))
        if (digest in hashes or doc["reference"] in references) and sim.records.delete(
            MESSAGES, stored.key
        ):
            forget_parts(sim, doc)
            removed_messages += 1
    contents = set(request.tack_contents)
    tack_references = set(request.tack_references)
    removed_tacks = 0
    for stored in waiting_tacks(sim, mailbox, nihii):
        doc = stored.document
        content = base64.b64decode(str(doc["content"]))
        if (content in contents or doc.get("reference") in tack_references) and sim.records.delete(
            TACKS, stored.key
        ):
            removed_tacks += 1
    return removed_messages, removed_tacks


def _scan(sim: Simulator, kind: str, mailbox: str, nihii: str) -> list[Stored]:
    found = sim.records.find(kind, prefix=f"{mailbox}/{nihii}/", limit=_SCAN_LIMIT)
    return [Stored(key, doc) for key, doc in found]


def _key(mailbox: str, nihii: str) -> str:
    # Nanosecond time first keeps delivery order across restarts; the uuid breaks ties.
    return f"{mailbox}/{nihii}/{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"


def _optional(value: object) -> str | None:
    return None if value is None else str(value)
