"""Hardened XML parsing: no entities, no DTD, no network, bounded size, depth and complexity.

Every byte that arrives from a client goes through `parse_xml`; nothing else in the simulator
builds a parser for untrusted input.

Three walls keep a DOCTYPE from reaching the file system. libxml2 reads the internal subset,
and loads external parameter entities named there, while it parses, whatever lxml's
`load_dtd`/`resolve_entities` say: checking `docinfo.doctype` afterwards is too late (a
`file:///dev/zero` entity never returns). So (1) the raw bytes are decoded the way libxml2
would and refused if anything but comments and PIs precedes the root element; (2) the parser
has a resolver that answers every external load with nothing; (3) the parsed tree is checked
for a DOCTYPE again.

Complexity limits: libxml2's exclusive c14n sorts attributes and searches in-scope namespaces
with quadratic algorithms; 100k attributes or 40k namespace declarations freeze a worker for
tens of seconds. They are bounded right after parsing, before any signature work, with counts
a cheap byte scan decides in the common case.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, AnyStr, Generic, cast

from lxml import etree

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
# libxml2 itself refuses documents nested deeper than this unless huge_tree is set, which we
# never do; a Python walk is needed only for a stricter limit.
LIBXML2_MAX_DEPTH = 256
MAX_DEPTH = LIBXML2_MAX_DEPTH
# Real eHealth messages use well under 10 attributes per element and some 20 namespaces; a
# 10,000-query MemberData answer has ~500k elements. Each limit keeps c14n of a 20 MB document
# under a few hundred milliseconds (loadtests/bench_attacks.py).
MAX_ATTRIBUTES_PER_ELEMENT = 100
MAX_NAMESPACES_IN_SCOPE = 256
MAX_ELEMENTS = 1_000_000

# Encodings a DOCTYPE scan can read: ASCII-compatible ones (markup is plain ASCII bytes) and
# UTF-16. Others libxml2 might accept (UTF-7, EBCDIC, UCS-4) no client sends: refused.
_ASCII_COMPATIBLE = frozenset(
    {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1", "iso-8859-15", "windows-1252"}
)
_UTF16 = frozenset({"utf-16", "utf-16le", "utf-16be", "utf16", "iso-10646-ucs-2", "ucs-2"})
_XML_DECL = re.compile(
    r"<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(['\"])1\.[0-9]+\1"
    r"(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(['\"])(?P<encoding>[A-Za-z][A-Za-z0-9._-]*)\2)?"
    r"(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(['\"])(?:yes|no)\4)?[ \t\r\n]*\?>"
)
_XML_DECL_START = re.compile(r"<\?xml[ \t\r\n?]")


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
    max_attributes: int = MAX_ATTRIBUTES_PER_ELEMENT
    max_namespaces: int = MAX_NAMESPACES_IN_SCOPE
    max_elements: int = MAX_ELEMENTS


class ExternalLoadRefused(etree.Resolver):
    """Answers every external entity or DTD load with empty content, so libxml2 opens no file
    and no URL. `attempts` counts what was asked (a test spies on it); nothing else reads it."""

    attempts: int = 0

    # lxml passes a context argument that lxml-stubs leave out.
    def resolve(  # type: ignore[override]
        self, system_url: str | None, public_id: str | None, context: Any
    ) -> Any:
        ExternalLoadRefused.attempts += 1
        return self.resolve_string("", context, base_url=None)


def _new_parser() -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_comments=False,
        collect_ids=False,
    )
    parser.resolvers.add(ExternalLoadRefused())
    return parser


_PARSER = _new_parser()


def parse_xml(data: bytes, limits: ParseLimits = ParseLimits()) -> etree._Element:
    """Parse untrusted bytes into an element tree or raise `XmlRejected`.

    A DOCTYPE is refused outright, before libxml2 sees it: SOAP 1.1 forbids it, and refusing
    it defeats external entities (XXE, local file probing) and entity expansion.
    """
    if len(data) > limits.max_bytes:
        raise XmlRejected(
            f"document of {len(data)} bytes exceeds the {limits.max_bytes}-byte limit"
        )
    if not data.strip():
        raise XmlRejected("empty document")
    text = _scan_view(data)
    _refuse_doctype(text)
    try:
        # Namespaces first, from parse events that stop at the first crowded element: a
        # tree of 40k declarations would cost as much to build as to refuse.
        if _count(text, "xmlns") > limits.max_namespaces:
            _check_namespaces(data, text, limits.max_namespaces)
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if isinstance(exc.lineno, int) else None
        raise XmlRejected(f"not well-formed XML: {exc.msg}", line=line) from None
    if _has_doctype(root):
        raise XmlRejected("a DOCTYPE declaration is not allowed in a SOAP message")
    if limits.max_depth < LIBXML2_MAX_DEPTH:
        _check_depth(root, limits.max_depth)
    _check_complexity(root, text, limits)
    return root


def _count(text: bytes | str, marker: str) -> int:
    return text.count(marker.encode("ascii")) if isinstance(text, bytes) else text.count(marker)


# -- the DOCTYPE scan -------------------------------------------------------------------------


def _scan_view(data: bytes) -> bytes | str:
    """The document as the DOCTYPE scan reads it: the bytes themselves when the encoding is
    ASCII-compatible (markup is then ASCII, whatever the encoding of the text), else decoded.

    Detection follows XML 1.0 appendix F, as libxml2 does: BOM, then the first four bytes,
    then the encoding declaration.
    """
    head = data[:4]
    if head.startswith((b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")) or head in (
        b"\x00\x00\x00<",
        b"<\x00\x00\x00",
    ):
        raise XmlRejected("UCS-4/UTF-32 documents are not accepted: send UTF-8")
    if head.startswith(b"\x4c\x6f\xa7\x94"):
        raise XmlRejected("EBCDIC documents are not accepted: send UTF-8")
    utf16 = None
    if head.startswith(b"\xfe\xff") or (len(head) > 1 and head[0] == 0 and head[1] != 0):
        utf16 = "utf-16-be"
    elif head.startswith(b"\xff\xfe") or (len(head) > 1 and head[0] != 0 and head[1] == 0):
        utf16 = "utf-16-le"
    if utf16 is not None:
        text = data.decode(utf16, errors="replace").removeprefix("\ufeff")
        _check_declared(text, _UTF16, "UTF-16")
        return text
    prolog = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    _check_declared(prolog[:512].decode("latin-1"), _ASCII_COMPATIBLE, "an ASCII-compatible")
    return prolog


def _check_declared(start: str, allowed: frozenset[str], kind: str) -> None:
    if not _XML_DECL_START.match(start):
        return
    declaration = _XML_DECL.match(start)
    if declaration is None:
        # Its pseudo-attributes decide where the declaration ends: a malformed one could hide
        # a DOCTYPE from the scan.
        raise XmlRejected("malformed XML declaration")
    encoding = declaration.group("encoding")
    if encoding is not None and encoding.lower() not in allowed:
        raise XmlRejected(
            f"encoding {encoding!r} declared in {kind} document is not accepted: "
            "send UTF-8 (or UTF-16)"
        )


def _refuse_doctype(doc: bytes | str) -> None:
    """Walk the prolog (XML declaration, PIs, comments, white space) up to the root element;
    a `<!` there that does not open a comment is a DOCTYPE (or garbage): refused."""
    if isinstance(doc, bytes):
        _walk_prolog(doc, _BYTES_TOKENS)
    else:
        _walk_prolog(doc, _TEXT_TOKENS)


@dataclass(frozen=True)
class _Tokens(Generic[AnyStr]):
    space: re.Pattern[AnyStr]
    pi: AnyStr
    pi_end: AnyStr
    comment: AnyStr
    comment_end: AnyStr
    declaration: AnyStr


_BYTES_TOKENS = _Tokens(re.compile(rb"[ \t\r\n]*"), b"<?", b"?>", b"<!--", b"-->", b"<!")
_TEXT_TOKENS = _Tokens(re.compile(r"[ \t\r\n]*"), "<?", "?>", "<!--", "-->", "<!")


def _walk_prolog(doc: AnyStr, tokens: _Tokens[AnyStr]) -> None:
    position = 0
    while True:
        space = tokens.space.match(doc, position)
        position = space.end() if space else position
        if doc.startswith(tokens.pi, position):
            end = doc.find(tokens.pi_end, position + 2)
        elif doc.startswith(tokens.comment, position):
            end = doc.find(tokens.comment_end, position + 4)
        elif doc.startswith(tokens.declaration, position):
            raise XmlRejected("a DOCTYPE declaration is not allowed in a SOAP message")
        else:
            return  # the root element, or garbage the parser refuses
        if end < 0:
            return  # unterminated: the parser says so
        position = end + (2 if doc.startswith(tokens.pi, position) else 3)


# -- complexity -------------------------------------------------------------------------------

_CROWDED_ELEMENT = etree.XPath("(//*[count(@*) > $limit])[1]")


def _check_complexity(root: etree._Element, text: bytes | str, limits: ParseLimits) -> None:
    """Refuse trees whose canonicalisation would be disproportionately slow.

    Byte counts bound each quantity from above (every element starts with '<', every
    attribute has '='; the DOCTYPE ban rules out entities that could produce them), so a usual
    message costs two `count` calls and only a large or odd one is walked. (Namespaces are
    counted before the tree is built, in `parse_xml`.)
    """
    elements, attributes = _count(text, "<"), _count(text, "=")
    if elements > limits.max_elements:
        counted = int(cast(float, root.xpath("count(//*)")))
        if counted > limits.max_elements:
            raise XmlRejected(
                f"document has {counted} elements, more than the {limits.max_elements} allowed"
            )
    if attributes > limits.max_attributes:
        crowded = cast(list[etree._Element], _CROWDED_ELEMENT(root, limit=limits.max_attributes))
        if crowded:
            element = crowded[0]
            raise XmlRejected(
                f"element <{etree.QName(element).localname}> has {len(element.attrib)} "
                f"attributes, more than the {limits.max_attributes} allowed",
                line=source_line(element),
            )


def _check_namespaces(data: bytes, text: bytes | str, limit: int) -> None:
    """Namespaces declared on an element and its ancestors, counted from parse events: one
    pass whatever the declarations, where `nsmap` per element would itself be quadratic.

    libxml2 checks each declaration of a start tag against the others, so one tag with
    hundreds of thousands of them costs seconds to parse even as events: those tags are
    found first in the bytes. A start tag holds no '<', and more than `limit` declarations
    take more than 9 bytes each, so only long runs without '<' are counted.
    """
    for start, found in _xmlns_in_long_runs(text, 9 * (limit + 1)):
        if found > limit:
            raise XmlRejected(
                f"an element declares {found} namespaces, more than the {limit} allowed",
                line=_count(text[:start], "\n") + 1,
            )
    declared = [0]  # declarations per open element, plus the document level
    pending = 0
    events = etree.iterparse(
        io.BytesIO(data),
        events=("start-ns", "start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    in_scope = 0
    for event, item in events:
        if event == "start-ns":
            pending += 1
        elif event == "start":
            declared.append(pending)
            in_scope += pending
            pending = 0
            if in_scope > limit:
                element = cast(etree._Element, item)
                raise XmlRejected(
                    f"{in_scope} namespace declarations in scope at "
                    f"<{etree.QName(element).localname}>, more than the {limit} allowed",
                    line=source_line(element),
                )
        else:
            in_scope -= declared.pop()
            cast(etree._Element, item).clear()  # only counts matter: keep memory flat


@functools.lru_cache(maxsize=8)
def _long_run_patterns(length: int) -> tuple[re.Pattern[bytes], re.Pattern[str]]:
    pattern = f"<[^<]{{{length},}}"
    return re.compile(pattern.encode("ascii")), re.compile(pattern)


def _xmlns_in_long_runs(text: bytes | str, length: int) -> Iterator[tuple[int, int]]:
    """(offset, "xmlns" count) of each '<' followed by `length` or more characters that are
    not '<': the only places a crowded start tag can be."""
    as_bytes, as_text = _long_run_patterns(length)
    if isinstance(text, bytes):
        for match in as_bytes.finditer(text):
            yield match.start(), match.group().count(b"xmlns")
    else:
        for found in as_text.finditer(text):
            yield found.start(), found.group().count("xmlns")


# -- helpers ----------------------------------------------------------------------------------


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
    return bool(docinfo.doctype) or root.getroottree().docinfo.internalDTD is not None
