import pytest

from simulator.soap.parser import ParseLimits, XmlRejected, parse_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<foo>&xxe;</foo>"""


def test_parses_plain_xml_with_line_numbers():
    root = parse_xml(b"<a>\n<b/>\n</a>")
    assert root.tag == "a"
    assert root[0].sourceline == 2


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE])
def test_refuses_any_doctype(payload):
    with pytest.raises(XmlRejected, match="DOCTYPE"):
        parse_xml(payload)


def test_external_entity_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    payload = XXE.replace(b"/etc/passwd", str(secret).encode())
    with pytest.raises(XmlRejected) as caught:
        parse_xml(payload)
    assert "TOP-SECRET" not in caught.value.reason


def test_not_xml_reports_the_line():
    with pytest.raises(XmlRejected) as caught:
        parse_xml(b"<a>\n<b>\n</a>")
    assert caught.value.reason.startswith("not well-formed XML")
    assert caught.value.line == 3


def test_size_limit():
    with pytest.raises(XmlRejected, match="exceeds the 10-byte limit"):
        parse_xml(b"<a>0123456789</a>", ParseLimits(max_bytes=10))


def test_depth_limit():
    deep = b"<a>" * 50 + b"</a>" * 50
    assert parse_xml(deep, ParseLimits(max_depth=50)).tag == "a"
    with pytest.raises(XmlRejected, match="deeper than 49"):
        parse_xml(deep, ParseLimits(max_depth=49))


@pytest.mark.parametrize("payload", [b"", b"   \n", b"not xml at all", b"\xff\xfe<a/>"])
def test_garbage_is_rejected(payload):
    with pytest.raises(XmlRejected):
        parse_xml(payload)


def test_default_depth_limit_is_enforced_by_libxml2():
    assert parse_xml(b"<a>" * 256 + b"</a>" * 256).tag == "a"
    with pytest.raises(XmlRejected, match="Excessive depth"):
        parse_xml(b"<a>" * 10_000 + b"</a>" * 10_000)
