"""MTOM/XOP: a hand-built multipart/related request becomes the inline-base64 document."""

from __future__ import annotations

import base64

import pytest

from simulator.soap.mtom import MAX_PARTS, MtomError, is_multipart, to_inline
from simulator.soap.parser import parse_xml

BINARY = bytes(range(256)) + b"\r\n--not-the-boundary\r\n" + b"\x00" * 10
ROOT = (
    b'<e xmlns:xop="http://www.w3.org/2004/08/xop/include">'
    b'<Detail MessageName="HCPFAC"><xop:Include href="cid:part1%40sim"/></Detail></e>'
)
CONTENT_TYPE = 'multipart/related; type="application/xop+xml"; boundary="b1"; start="<root@sim>"'


def _message(root: bytes = ROOT, *parts: tuple[str, bytes, str]) -> bytes:
    body = b'--b1\r\nContent-Type: application/xop+xml; type="text/xml"\r\n'
    body += b"Content-ID: <root@sim>\r\n\r\n" + root + b"\r\n"
    for cid, data, encoding in parts or (("part1@sim", BINARY, "binary"),):
        body += (
            f"--b1\r\nContent-ID: <{cid}>\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n".encode()
        )
        body += data + b"\r\n"
    return body + b"--b1--\r\n"


def test_includes_become_inline_base64_byte_for_byte() -> None:
    document = parse_xml(to_inline(CONTENT_TYPE, _message()))
    detail = document.find("Detail")
    assert detail is not None
    assert len(detail) == 0
    assert base64.b64decode(detail.text or "") == BINARY
    assert detail.get("MessageName") == "HCPFAC"


def test_a_base64_part_is_decoded() -> None:
    part = ("part1@sim", base64.encodebytes(BINARY), "base64")
    detail = parse_xml(to_inline(CONTENT_TYPE, _message(ROOT, part))).find("Detail")
    assert detail is not None and base64.b64decode(detail.text or "") == BINARY


def test_content_type_detection() -> None:
    assert is_multipart(CONTENT_TYPE)
    assert is_multipart("Multipart/Related; boundary=x")
    assert not is_multipart("text/xml; charset=utf-8")
    assert not is_multipart(None)


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ('multipart/related; type="application/xop+xml"', _message(), "no boundary"),
        ('multipart/related; boundary="b1"; type="text/plain"', _message(), "application/xop"),
        (CONTENT_TYPE, _message(ROOT, ("other@sim", b"x", "binary")), "no part has it"),
        (CONTENT_TYPE, _message().replace(b"--b1--\r\n", b""), "closing boundary"),
        (CONTENT_TYPE.replace("root@sim", "nope@sim"), _message(), "start parameter"),
        (CONTENT_TYPE, _message(b"<e><unclosed></e>"), "not XML"),
        (CONTENT_TYPE, _message(ROOT.replace(b"cid:", b"http://x/")), "not a cid"),
        (CONTENT_TYPE, _message(ROOT, ("part1@sim", b"!!", "base64")), "base64"),
    ],
)
def test_broken_messages_say_what_is_wrong(content_type: str, body: bytes, message: str) -> None:
    with pytest.raises(MtomError, match=message):
        to_inline(content_type, body)


def test_the_number_of_parts_is_capped() -> None:
    parts = [(f"p{i}@sim", b"x", "binary") for i in range(MAX_PARTS + 1)]
    with pytest.raises(MtomError, match="MIME parts"):
        to_inline(CONTENT_TYPE, _message(ROOT, *parts))


def test_an_entity_declaration_in_the_root_part_is_refused() -> None:
    root = b'<!DOCTYPE e [<!ENTITY x "y">]><e>&x;</e>'
    with pytest.raises(MtomError, match="not XML"):
        to_inline(CONTENT_TYPE, _message(root))
