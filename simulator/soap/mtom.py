"""MTOM/XOP requests (`multipart/related; type="application/xop+xml"`) made inline again.

GenAsync clients switch to MTOM above a payload threshold (wire-formats 1.1). The rest of the
pipeline reads one XML document, so the root part is taken and every `xop:Include href="cid:…"`
is replaced by the base64 of the part it names: the document a client without MTOM would send.
Parts are split by hand (not `email`) so binary content passes byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote

from lxml import etree

from simulator.soap.parser import MAX_DOCUMENT_BYTES, XmlRejected, parse_xml, source_line

XOP = "http://www.w3.org/2004/08/xop/include"
MAX_PARTS = 64  # a GenAsync post has a handful: root, Detail, perhaps Xades-t
_PARAM = re.compile(r';\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]+)')


class MtomError(ValueError):
    """The multipart body is not a usable MTOM/XOP message; the text says what and where."""


def is_multipart(content_type: str | None) -> bool:
    return (content_type or "").strip().lower().startswith("multipart/related")


def to_inline(content_type: str, body: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The root part of an MTOM message with each xop:Include replaced by inline base64.

    The inline document may not exceed `max_bytes` (what the pipeline parses at most), and a
    part may be included once: otherwise one 1 MB part named 400 times inflates to 400 MB
    before any limit sees it. Both are checked before anything is copied.
    """
    params = _params(content_type)
    boundary = params.get("boundary")
    if not boundary:
        raise MtomError("Content-Type multipart/related has no boundary parameter")
    kind = params.get("type", "").lower()
    if kind and kind != "application/xop+xml":
        raise MtomError(f'multipart/related type is {kind!r}; MTOM uses "application/xop+xml"')
    parts = _split(body, boundary.encode("latin-1"))
    start = _cid(params["start"]) if params.get("start") else None
    root_part = next((p for p in parts if p[0] == start), None) if start else parts[0]
    if root_part is None:
        raise MtomError(f"no part has the Content-ID <{start}> named by the start parameter")
    attachments = {cid: data for cid, data in parts if cid is not None and cid != root_part[0]}
    try:
        root = parse_xml(root_part[1])
    except XmlRejected as rejected:
        where = f" (line {rejected.line})" if rejected.line else ""
        raise MtomError(f"root part is not XML: {rejected.reason}{where}") from None
    includes = list(root.iter(f"{{{XOP}}}Include"))
    _check_inflation(includes, attachments, len(root_part[1]), max_bytes)
    for include in includes:
        _inline(include, attachments)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _check_inflation(
    includes: list[etree._Element], attachments: dict[str, bytes], root_size: int, max_bytes: int
) -> None:
    seen: dict[str, int | None] = {}
    size = root_size
    for include in includes:
        cid = _cid_of(include)
        if cid in seen:
            raise MtomError(
                f"xop:Include (line {include.sourceline}) names cid:{cid} again (first at line "
                f"{seen[cid]}): each MIME part may be included once"
            )
        seen[cid] = source_line(include)
        size += 4 * ((len(attachments.get(cid, b"")) + 2) // 3)  # its base64 length
        if size > max_bytes:
            raise MtomError(
                f"the message with its parts inline exceeds the {max_bytes}-byte limit "
                f"(at xop:Include line {include.sourceline})"
            )


def _cid_of(include: etree._Element) -> str:
    href = include.get("href", "")
    if not href.startswith("cid:"):
        raise MtomError(f"xop:Include href {href!r} (line {include.sourceline}) is not a cid: URL")
    return unquote(href[4:])


def _inline(include: etree._Element, attachments: dict[str, bytes]) -> None:
    cid = _cid_of(include)
    data = attachments.get(cid)
    if data is None:
        raise MtomError(
            f"xop:Include names cid:{cid} (line {include.sourceline}) but no part has it"
        )
    parent = include.getparent()
    if (
        parent is None
        or any(isinstance(child.tag, str) and child is not include for child in parent)
        or (parent.text or "").strip()
    ):
        raise MtomError(
            f"xop:Include (line {include.sourceline}) must be the only content of its element"
        )
    parent.remove(include)
    parent.text = base64.b64encode(data).decode("ascii")


def _split(body: bytes, boundary: bytes) -> list[tuple[str | None, bytes]]:
    delimiter = b"--" + boundary
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise MtomError("multipart body does not contain its boundary")
    parts: list[tuple[str | None, bytes]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        if len(parts) == MAX_PARTS:
            raise MtomError(f"more than {MAX_PARTS} MIME parts")
        parts.append(_part(chunk, len(parts) + 1))
    else:
        raise MtomError("multipart body has no closing boundary")
    if not parts:
        raise MtomError("multipart body has no part")
    return parts


def _part(chunk: bytes, index: int) -> tuple[str | None, bytes]:
    # A delimiter line ends with CRLF; the body ends before the CRLF of the next delimiter.
    chunk = chunk.removeprefix(b"\r\n").removeprefix(b"\n")
    head, separator, content = chunk.partition(b"\r\n\r\n")
    if not separator:
        head, separator, content = chunk.partition(b"\n\n")
    if not separator:
        raise MtomError(f"MIME part {index} has no blank line after its headers")
    content = (
        content.removesuffix(b"\r\n") if content.endswith(b"\r\n") else content.removesuffix(b"\n")
    )
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    encoding = headers.get("content-transfer-encoding", "binary").lower()
    if encoding == "base64":
        try:
            content = base64.b64decode(b"".join(content.split()), validate=True)
        except (binascii.Error, ValueError):
            raise MtomError(f"MIME part {index} is not valid base64") from None
    elif encoding not in ("binary", "8bit", "7bit"):
        raise MtomError(f"MIME part {index}: Content-Transfer-Encoding {encoding!r} not supported")
    cid = headers.get("content-id")
    return (_cid(cid) if cid else None), content


def _params(content_type: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in _PARAM.findall(content_type):
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        params[name.lower()] = value
    return params


def _cid(value: str) -> str:
    return value.strip().removeprefix("<").removesuffix(">")
