"""Issue 11, items 1, 3 and 4: no file is opened for a DOCTYPE, MTOM cannot amplify, and
documents that would stall canonicalisation are refused right after parsing.

Timings are not asserted here (loadtests/bench_attacks.py prints them); what is asserted is
the refusal, its reason, and that no file was touched.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree

from simulator.soap import parser
from simulator.soap.mtom import MtomError, to_inline
from simulator.soap.parser import ExternalLoadRefused, ParseLimits, XmlRejected, parse_xml

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"]


# -- item 1: DOCTYPE and local files ----------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "probe.fifo"
    os.mkfifo(path)
    yield path


def _has_reader(path: Path) -> bool:
    """A non-blocking open for writing fails with ENXIO unless someone opened it to read; when
    it succeeds the blocked reader is released (it sees end of file)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    os.close(descriptor)
    return True


def _parse_in_thread(parse: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(parse())
        except Exception as error:  # the refusal is the expected outcome
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=5)
    return thread, outcome


def _doctypes(target: Path) -> list[str]:
    uri = f"file://{target}"
    return [
        f'<!DOCTYPE x [<!ENTITY % p SYSTEM "{uri}"> %p;]><x/>',
        f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "{uri}">]>\n<x>&e;</x>',
        f'<?xml version="1.0"?><!-- a comment --><?pi data?>\n<!DOCTYPE x SYSTEM "{uri}"><x/>',
    ]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("case", range(3))
def test_a_doctype_never_opens_the_file_it_names(fifo: Path, encoding: str, case: int) -> None:
    document = _doctypes(fifo)[case]
    if encoding.startswith("utf-16") and document.startswith("<?xml"):
        document = document.replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    thread, outcome = _parse_in_thread(lambda: parse_xml(document.encode(encoding)))
    opened = _has_reader(fifo)  # also unblocks a parser stuck in open()
    thread.join(timeout=5)
    assert not opened, "libxml2 opened the FIFO named by the DOCTYPE"
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], XmlRejected)
    assert "DOCTYPE" in outcome[0].reason


def test_the_resolver_answers_every_load_with_nothing(fifo: Path) -> None:
    """Second wall: even a DOCTYPE that got past the scan loads nothing through the parser."""
    before = ExternalLoadRefused.attempts
    document = _doctypes(fifo)[0].encode()
    thread, outcome = _parse_in_thread(lambda: etree.fromstring(document, parser._PARSER))
    opened = _has_reader(fifo)
    thread.join(timeout=5)
    assert not opened
    assert ExternalLoadRefused.attempts == before + 1
    assert outcome and not isinstance(outcome[0], Exception)


def test_existing_and_missing_files_get_the_same_answer() -> None:
    reasons = set()
    for path in ("/etc/passwd", "/etc/shadow", "/no/such/file"):
        with pytest.raises(XmlRejected) as caught:
            parse_xml(f'<!DOCTYPE x [<!ENTITY % p SYSTEM "file://{path}"> %p;]><x/>'.encode())
        reasons.add(caught.value.reason)
    assert reasons == {"a DOCTYPE declaration is not allowed in a SOAP message"}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE x+AD4-<x/>', "UTF-7"),
        ("<x/>".encode("utf-32"), "UCS-4"),
        ('<?xml version="1.0"?><x/>'.encode("cp500"), "EBCDIC"),
        # a declaration whose quoted value holds "?>" could hide what follows from the scan
        (b'<?xml version="1.0" encoding="x?><a/>"?><!DOCTYPE x><x/>', "XML declaration"),
    ],
)
def test_encodings_the_scan_cannot_read_are_refused(document: bytes, reason: str) -> None:
    with pytest.raises(XmlRejected, match=reason):
        parse_xml(document)


@pytest.mark.parametrize(
    "document",
    [
        '<?xml version="1.0" encoding="UTF-16"?><a>é</a>'.encode("utf-16"),
        '<?xml version="1.0" encoding="UTF-16"?><a>é</a>'.encode("utf-16-le"),  # no BOM
        '<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>'.encode("latin-1"),
        b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8' standalone='yes'?><a>\xc3\xa9</a>",
        b"<!-- <!DOCTYPE in a comment --><?pi <!DOCTYPE in a PI?><a>\xc3\xa9</a>",
    ],
)
def test_ordinary_documents_still_parse(document: bytes) -> None:
    assert parse_xml(document).text == "é"


# -- item 3: MTOM amplification ---------------------------------------------------------------

CONTENT_TYPE = 'multipart/related; type="application/xop+xml"; boundary="b1"; start="<root@sim>"'


def _mtom(includes: str, parts: dict[str, bytes]) -> bytes:
    root = f'<e xmlns:xop="http://www.w3.org/2004/08/xop/include">{includes}</e>'.encode()
    body = b"--b1\r\nContent-ID: <root@sim>\r\n\r\n" + root + b"\r\n"
    for cid, data in parts.items():
        body += f"--b1\r\nContent-ID: <{cid}>\r\n\r\n".encode() + data + b"\r\n"
    return body + b"--b1--\r\n"


def test_a_part_included_twice_is_refused_before_anything_is_copied() -> None:
    includes = "".join(f'<d{i}><xop:Include href="cid:big@sim"/></d{i}>' for i in range(400))
    with pytest.raises(MtomError, match="included once"):
        to_inline(CONTENT_TYPE, _mtom(includes, {"big@sim": b"x" * 1_000_000}))


def test_the_inline_size_is_bounded_by_the_body_limit() -> None:
    includes = '<a><xop:Include href="cid:p1@sim"/></a><b><xop:Include href="cid:p2@sim"/></b>'
    body = _mtom(includes, {"p1@sim": b"x" * 600, "p2@sim": b"y" * 600})
    assert len(to_inline(CONTENT_TYPE, body, max_bytes=2_000)) < 2_000
    with pytest.raises(MtomError, match="1500-byte limit"):
        to_inline(CONTENT_TYPE, body, max_bytes=1_500)


# -- item 4: canonicalisation stalls ----------------------------------------------------------


def test_too_many_attributes_on_one_element_are_refused() -> None:
    attributes = " ".join(f'a{i}="x"' for i in range(100_000))
    with pytest.raises(XmlRejected, match="100000 attributes, more than the 100 allowed"):
        parse_xml(f"<r>\n<s {attributes}/></r>".encode())


def test_attributes_at_the_limit_pass() -> None:
    attributes = " ".join(f'a{i}="x"' for i in range(parser.MAX_ATTRIBUTES_PER_ELEMENT))
    assert len(parse_xml(f"<r><s {attributes}/></r>".encode())[0].attrib) == 100


def test_too_many_namespaces_on_one_element_are_refused_before_parsing() -> None:
    declarations = " ".join(f'xmlns:p{i}="urn:x:{i}"' for i in range(40_000))
    with pytest.raises(XmlRejected, match="declares 40000 namespaces, more than the 256") as caught:
        parse_xml(f"<?xml version='1.0'?>\n<r {declarations}><b><c/></b></r>".encode())
    assert caught.value.line == 2


def test_namespaces_nested_beyond_the_limit_are_refused() -> None:
    opening = "".join(f'<e{i} xmlns:p{i}="urn:x:{i}">' for i in range(200))
    closing = "".join(f"</e{i}>" for i in reversed(range(200)))
    document = f"{opening}{closing}".encode()
    assert parse_xml(document).tag == "e0"
    with pytest.raises(XmlRejected, match="101 namespace declarations in scope at <e100>"):
        parse_xml(document, ParseLimits(max_namespaces=100))


def test_many_declarations_that_are_never_in_scope_together_pass() -> None:
    """.NET serializers repeat xmlns on every element: many declarations, few in scope."""
    items = "".join(f'<q xmlns="urn:q"><n xmlns:p="urn:p{i}"/></q>' for i in range(5_000))
    assert len(parse_xml(f"<list>{items}</list>".encode())) == 5_000


def test_too_many_elements_are_refused() -> None:
    with pytest.raises(XmlRejected, match="more than the 1000 allowed"):
        parse_xml(b"<r>" + b"<a/>" * 1_000 + b"</r>", ParseLimits(max_elements=1_000))
    assert len(parse_xml(b"<r>" + b"<a/>" * 999 + b"</r>", ParseLimits(max_elements=1_000))) == 999


def test_limits_hold_for_utf16_documents() -> None:
    attributes = " ".join(f'a{i}="x"' for i in range(500))
    with pytest.raises(XmlRejected, match="500 attributes"):
        parse_xml(f"<r {attributes}/>".encode("utf-16"))
    declarations = " ".join(f'xmlns:p{i}="urn:x:{i}"' for i in range(500))
    with pytest.raises(XmlRejected, match="declares 500 namespaces"):
        parse_xml(f"<r {declarations}/>".encode("utf-16"))
