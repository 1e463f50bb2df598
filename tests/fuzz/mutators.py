"""Mutations of a valid request at three levels, over one `Chooser` so that the same code is
driven by Hypothesis (tests/fuzz: shrinkable draws) or by `random.Random` (the campaign:
100,000 inputs at hundreds a second).

* bytes: flip, insert (random or XML-significant tokens), delete or duplicate a range;
* XML: drop, duplicate or reorder elements, change text, inject comments, processing
  instructions, CDATA, namespace declarations and foreign namespaces, many attributes (within
  the parser's limits), duplicate wsu:Id (signature wrapping);
* HTTP: SOAPAction (none, empty, other, unquoted, garbage), Content-Type (none, SOAP 1.2,
  multipart without boundary, charsets, garbage).
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from lxml import etree

from tests.fuzz.corpus import Seed, Signer

T = TypeVar("T")
SOAP11 = b"http://schemas.xmlsoap.org/soap/envelope/"
MAX_ATTRIBUTES = 200  # "huge attribute counts within limits": well under libxml2's limits


class Chooser(Protocol):
    def integer(self, low: int, high: int) -> int: ...

    def sample(self, values: Sequence[T]) -> T: ...


class RandomChooser:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def sample(self, values: Sequence[T]) -> T:
        return values[self.rng.randrange(len(values))]


@dataclass(frozen=True)
class Fuzzed:
    """One input: where it goes, its headers and body, and what was done to it."""

    operation: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    steps: tuple[str, ...]


# -- bytes ------------------------------------------------------------------------------------

TOKENS = (
    b"<", b">", b"&", b"&amp;", b"&#0;", b"&#x110000;", b"&undefined;", b"\x00", b"\xff\xfe",
    b"\xef\xbb\xbf", b"\xc3\x28", b"]]>", b"<![CDATA[", b"<!--", b"-->", b"<?xml version='1.0'?>",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b"<!DOCTYPE x SYSTEM 'http://127.0.0.1:1/x'>",
    b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>',
    b' xmlns="urn:fuzz"', b' xmlns:soap="urn:fuzz"', b' wsu:Id="id-1"', b"\r\n", b"9" * 40,
)  # fmt: skip


def flip(body: bytes, c: Chooser) -> tuple[bytes, str]:
    data = bytearray(body)
    count = c.integer(1, 8)
    at = c.integer(0, max(0, len(data) - 1))
    for offset in range(count):
        if data:
            data[(at + offset) % len(data)] = c.integer(0, 255)
    return bytes(data), f"flip {count}@{at}"


def insert(body: bytes, c: Chooser) -> tuple[bytes, str]:
    at = c.integer(0, len(body))
    if c.integer(0, 1):
        piece = c.sample(TOKENS)
    else:
        piece = bytes(c.integer(0, 255) for _ in range(c.integer(1, 32)))
    return body[:at] + piece + body[at:], f"insert {len(piece)}@{at}"


def delete(body: bytes, c: Chooser) -> tuple[bytes, str]:
    at = c.integer(0, len(body))
    size = c.integer(1, 256)
    return body[:at] + body[at + size :], f"delete {size}@{at}"


def duplicate(body: bytes, c: Chooser) -> tuple[bytes, str]:
    at = c.integer(0, len(body))
    size = c.integer(1, 512)
    return body[: at + size] + body[at : at + size] + body[at + size :], f"dup {size}@{at}"


BYTE_OPS: tuple[Callable[[bytes, Chooser], tuple[bytes, str]], ...] = (
    flip, insert, delete, duplicate,
)  # fmt: skip

# -- XML --------------------------------------------------------------------------------------

TEXTS = (
    "", " ", "0", "-1", "1e309", "NaN", "99999999999999999999999999", "2026-02-30",
    "2026-12-05T25:61:61Z", "true", "&lt;x/&gt;", "é€😀", "\u202e", "x" * 5000,
    "urn:be:fgov:person:ssin", "00000000000", "../../etc/passwd", "%s%s%n", "'; DROP TABLE x;--",
)  # fmt: skip
NAMESPACES = ("urn:fuzz", "http://schemas.xmlsoap.org/soap/envelope/",
              "http://www.w3.org/2003/05/soap-envelope", "")
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
WSU_ID = "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd}Id"


def _elements(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str)]


def _pick(root: etree._Element, c: Chooser, *, with_parent: bool) -> etree._Element | None:
    """An element of `root`'s subtree (`root` itself too unless it must be removable)."""
    found = [e for e in _elements(root) if not with_parent or e is not root]
    return c.sample(found) if found else None


def x_drop(root: etree._Element, c: Chooser) -> str:
    element = _pick(root, c, with_parent=True)
    if element is None:
        return "drop none"
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)
    return f"drop {etree.QName(element).localname}"


def x_duplicate(root: etree._Element, c: Chooser) -> str:
    element = _pick(root, c, with_parent=True)
    if element is None:
        return "dup none"
    parent = element.getparent()
    assert parent is not None
    parent.insert(parent.index(element) + c.integer(0, 1), copy.deepcopy(element))
    return f"dup {etree.QName(element).localname}"


def x_reorder(root: etree._Element, c: Chooser) -> str:
    parents = [e for e in _elements(root) if len(e) > 1]
    if not parents:
        return "reorder none"
    parent = c.sample(parents)
    children = list(parent)
    if c.integer(0, 1):
        children.reverse()
    else:
        i, j = c.integer(0, len(children) - 1), c.integer(0, len(children) - 1)
        children[i], children[j] = children[j], children[i]
    for child in children:
        parent.append(child)
    return f"reorder {etree.QName(parent).localname}"


def x_text(root: etree._Element, c: Chooser) -> str:
    element = _pick(root, c, with_parent=False)
    if element is None:
        return "text none"
    element.text = c.sample(TEXTS)
    return f"text {etree.QName(element).localname}"


def x_comment(root: etree._Element, c: Chooser) -> str:
    element = _pick(root, c, with_parent=False)
    if element is None:
        return "comment none"
    node = c.sample([etree.Comment("fuzz"), etree.Comment(""),
                     etree.ProcessingInstruction("fuzz", "x='1'"),
                     etree.ProcessingInstruction("xml-stylesheet", "href='http://127.0.0.1:1/'")])
    element.insert(c.integer(0, len(element)), node)
    return f"inject {type(node).__name__} in {etree.QName(element).localname}"


def x_cdata(root: etree._Element, c: Chooser) -> str:
    element = _pick(root, c, with_parent=False)
    if element is None:
        return "cdata none"
    element.text = etree.CDATA(element.text or c.sample(TEXTS[:12]))
    return f"cdata {etree.QName(element).localname}"


def x_namespace(root: etree._Element, c: Chooser) -> str:
    element = _pick(root, c, with_parent=False)
    if element is None:
        return "ns none"
    kind = c.integer(0, 2)
    name = etree.QName(element)
    if kind == 0:  # move the element to another namespace
        element.tag = etree.QName(c.sample(NAMESPACES) or None, name.localname).text
        return f"ns move {name.localname}"
    if kind == 1:  # an attribute in a foreign namespace
        element.set(f"{{{c.sample(NAMESPACES[:3])}}}fz", "1")
        return f"ns attribute on {name.localname}"
    element.set(WSU_ID, c.sample(["id-1", "Body", "TS-1", "_1", ""]))  # Id clashes
    return f"wsu:Id on {name.localname}"


def x_attributes(root: etree._Element, c: Chooser) -> str:
    element = _pick(root, c, with_parent=False)
    if element is None:
        return "attrs none"
    count = c.integer(1, MAX_ATTRIBUTES)
    for n in range(count):
        element.set(f"a{n}", "v" * c.integer(0, 3))
    return f"{count} attributes on {etree.QName(element).localname}"


XML_OPS: tuple[Callable[[etree._Element, Chooser], str], ...] = (
    x_drop, x_duplicate, x_reorder, x_text, x_comment, x_cdata, x_namespace, x_attributes,
)  # fmt: skip


def xml_mutation(
    body: bytes, c: Chooser, count: int, *, in_body: bool = False
) -> tuple[bytes, list[str]]:
    """`count` XML mutations anywhere, or only inside soap:Body (`in_body`, to sign after)."""
    try:
        root = etree.fromstring(body, _SAFE)
    except etree.XMLSyntaxError:
        return body, ["xml unparsable"]
    scope = root.find(f"{{{SOAP11.decode()}}}Body") if in_body else root
    if scope is None:
        scope = root
    steps = [c.sample(XML_OPS)(scope, c) for _ in range(count)]
    out = etree.tostring(root, encoding="utf-8", xml_declaration=bool(c.integer(0, 1)))
    return out, steps


# -- HTTP -------------------------------------------------------------------------------------

CONTENT_TYPES = (
    None, "", "text/xml", "text/xml; charset=utf-8", "text/xml; charset=iso-8859-1",
    "text/xml; charset=utf-16", "text/xml; charset=bogus", "application/soap+xml; charset=utf-8",
    "application/xml", "multipart/related", 'multipart/related; type="application/xop+xml"',
    'multipart/related; boundary="x"; type="application/xop+xml"; start="<root>"',
    "application/json", "text/plain", "x" * 300, "text/xml; charset=\"utf-8",
)  # fmt: skip


def soap_actions(seed_action: str | None) -> tuple[str | None, ...]:
    bare = (seed_action or '""').strip('"')
    return (None, '""', "", bare, f'"{bare}"', f'"{bare}x"', '"urn:fuzz"', "\u00e9", '"' * 3,
            "a" * 2000, f'"{bare}", "{bare}"')


def http_mutation(seed: Seed, c: Chooser) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    headers = dict(seed.headers)
    steps = []
    if c.integer(0, 1):
        value = c.sample(soap_actions(seed.soap_action))
        if value is None:
            headers.pop("SOAPAction", None)
        else:
            headers["SOAPAction"] = value
        steps.append(f"SOAPAction {value!r:.40}")
    if not steps or c.integer(0, 1):
        content_type = c.sample(CONTENT_TYPES)
        if content_type is None:
            headers.pop("Content-Type", None)
        else:
            headers["Content-Type"] = content_type
        steps.append(f"Content-Type {content_type!r:.40}")
    return tuple(headers.items()), steps


# -- one input --------------------------------------------------------------------------------

LEVELS = ("bytes", "xml", "http", "mixed", "signed-xml")


def fuzz(
    seeds: Sequence[Seed], c: Chooser, level: str | None = None, signer: Signer | None = None
) -> Fuzzed:
    """One mutated input from one of `seeds`, at `level` (drawn when None). "signed-xml"
    mutates inside soap:Body and signs again (`signer`): a valid signature over mutated
    content, which strict mode lets through to the services."""
    seed = c.sample(seeds)
    level = level or c.sample(LEVELS if signer is not None else LEVELS[:-1])
    body, headers, steps = seed.body, seed.headers, [f"{level}:"]
    if level == "signed-xml":
        body, done = xml_mutation(body, c, c.integer(1, 3), in_body=True)
        steps += done
        signed = signer.sign(seed.operation, body) if signer is not None else None
        if signed is not None:
            body = signed
            steps.append("signed")
    if level in ("xml", "mixed"):
        body, done = xml_mutation(body, c, c.integer(1, 3))
        steps += done
    if level in ("bytes", "mixed"):
        for _ in range(c.integer(1, 3)):
            body, done_one = c.sample(BYTE_OPS)(body, c)
            steps.append(done_one)
    if level in ("http", "mixed"):
        headers, done = http_mutation(replace(seed, body=body), c)
        steps += done
    return Fuzzed(seed.operation, seed.path, headers, body, tuple(steps))


# -- judging an answer ------------------------------------------------------------------------

TRACEBACK = re.compile(rb'Traceback \(most recent call last\)|File "[^"]+", line \d+')
ALLOWED_STATUSES = frozenset({200, 400, 401, 403, 404, 405, 411, 413, 415, 500, 503})


def is_soap_fault(body: bytes) -> bool:
    try:
        root = etree.fromstring(body, _SAFE)
    except etree.XMLSyntaxError:
        return False
    return root.find(f"{{{SOAP11.decode()}}}Body/{{{SOAP11.decode()}}}Fault") is not None


def problems(status: int, body: bytes, seconds: float, *, bound: float) -> list[str]:
    """What is wrong with an answer (the fuzz properties); [] when nothing."""
    found = []
    if TRACEBACK.search(body):
        found.append("traceback")
    if status >= 500 and not is_soap_fault(body):
        found.append("5xx-not-fault")
    if status not in ALLOWED_STATUSES:
        found.append(f"status-{status}")
    if seconds > bound:
        found.append("slow")
    return found
