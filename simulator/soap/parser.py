"""Hardened XML parsing: no entities, no DTD, no network, bounded size and depth.

Every byte that arrives from a client goes through `parse_xml`; nothing else in the simulator
builds a parser for untrusted input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from lxml import etree

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
# libxml2 itself refuses documents nested deeper than this unless huge_tree is set, which we
# never do; a Python walk is needed only for a stricter limit.
LIBXML2_MAX_DEPTH = 256
MAX_DEPTH = LIBXML2_MAX_DEPTH


class XmlRejected(ValueError):
    """The input is not acceptable XML. `reason` is safe to show to the client."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class ParseLimits:
    max_bytes: int = MAX_DOCUMENT_BYTES
    max_depth: int = MAX_DEPTH


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        collect_ids=False,
    )


_PARSER = _new_parser()


def parse_xml(data: bytes, limits: ParseLimits = ParseLimits()) -> etree._Element:
    """Parse untrusted bytes into an element tree or raise `XmlRejected`.

    A DOCTYPE is refused outright: SOAP 1.1 forbids it, and refusing it defeats both external
    entities (XXE) and entity expansion (billion laughs) before libxml2 sees them.
    """
    if len(data) > limits.max_bytes:
        raise XmlRejected(
            f"document of {len(data)} bytes exceeds the {limits.max_bytes}-byte limit"
        )
    if not data.strip():
        raise XmlRejected("empty document")
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if isinstance(exc.lineno, int) else None
        raise XmlRejected(f"not well-formed XML: {exc.msg}", line=line) from None
    if _has_doctype(root):
        raise XmlRejected("a DOCTYPE declaration is not allowed in a SOAP message")
    if limits.max_depth < LIBXML2_MAX_DEPTH:
        _check_depth(root, limits.max_depth)
    return root


def _check_depth(root: etree._Element, max_depth: int) -> None:
    # Iterative walk: a recursive one is exactly what a deeply nested attack wants.
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            raise XmlRejected(
                f"element nesting deeper than {max_depth} levels", line=source_line(element)
            )
        stack.extend((child, depth + 1) for child in element if isinstance(child.tag, str))


def source_line(element: etree._Element) -> int | None:
    line = element.sourceline
    return line if isinstance(line, int) else None


def _has_doctype(root: etree._Element) -> bool:
    # lxml-stubs lack DocInfo.doctype; the attribute exists on every lxml version we support.
    docinfo = cast(Any, root.getroottree().docinfo)
    return bool(docinfo.doctype)
