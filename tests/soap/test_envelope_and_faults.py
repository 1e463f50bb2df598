import pytest
from lxml import etree

from simulator.soap import faults
from simulator.soap.envelope import new_envelope, read_envelope, serialize
from simulator.soap.namespaces import SOA_ERRORS, SOAP11
from simulator.soap.parser import parse_xml

S = SOAP11


def envelope(body: str, header: str = "") -> etree._Element:
    return parse_xml(
        f'<soap:Envelope xmlns:soap="{S}">{header}<soap:Body>{body}</soap:Body></soap:Envelope>'.encode()
    )


def test_reads_header_body_and_payload():
    env = read_envelope(
        envelope('<p xmlns="urn:x"/>', '<soap:Header><h xmlns="urn:h">v</h></soap:Header>')
    )
    assert env.payload.tag == "{urn:x}p"
    assert env.header_text("urn:h", "h") == "v"
    assert env.header_blocks("urn:h", "missing") == []


@pytest.mark.parametrize(
    ("xml", "code"),
    [
        ('<Envelope xmlns="urn:not-soap"><Body/></Envelope>', "SOA-03002"),
        (
            '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
            "SOA-03002",
        ),
        (f'<soap:Envelope xmlns:soap="{S}"><soap:Header/></soap:Envelope>', "SOA-03002"),
        (f'<soap:Envelope xmlns:soap="{S}"><soap:Body/></soap:Envelope>', "SOA-03003"),
        (f'<soap:Envelope xmlns:soap="{S}"><soap:Body> </soap:Body></soap:Envelope>', "SOA-03003"),
        (
            f'<soap:Envelope xmlns:soap="{S}"><soap:Body><a/><b/></soap:Body></soap:Envelope>',
            "SOA-03005",
        ),
        (
            f'<soap:Envelope xmlns:soap="{S}"><soap:Body><a/></soap:Body><soap:Header/></soap:Envelope>',
            "SOA-03002",
        ),
    ],
)
def test_structure_errors_give_the_esb_code(xml, code):
    with pytest.raises(faults.SoapFault) as caught:
        read_envelope(parse_xml(xml.encode()))
    assert caught.value.code == code


def test_fault_envelope_carries_soa_detail_in_three_languages():
    fault = faults.not_xsd_conform("line 3, /a/b: missing element c")
    root = parse_xml(serialize(faults.fault_envelope(fault)))
    node = root.find(f"{{{S}}}Body/{{{S}}}Fault")
    assert node.findtext("faultcode") == "soap:Client"
    assert node.findtext("faultstring") == "SOA-03006: line 3, /a/b: missing element c"
    error = node.find(f"detail/{{{SOA_ERRORS}}}BusinessError")
    assert error.findtext("Code") == "SOA-03006"
    langs = {
        m.get("{http://www.w3.org/XML/1998/namespace}lang"): m.text
        for m in error.findall("Message")
    }
    assert set(langs) == {"fr", "nl", "en"}
    assert "XSD" in langs["fr"] and "XSD" in langs["nl"]
    assert langs["en"] == "line 3, /a/b: missing element c"
    assert error.findtext(f"{{{SOA_ERRORS}}}Environment") == "Simulation"


def test_security_fault_uses_the_wsse_qname_and_platform_errors_are_system_errors():
    root = faults.fault_envelope(faults.unauthenticated("expired", "MessageExpired"))
    code = root.find(f".//{{{S}}}Fault/faultcode").text
    prefix, local = code.split(":")
    assert local == "MessageExpired"
    assert root.nsmap[prefix].endswith("wssecurity-secext-1.0.xsd")
    system = faults.fault_envelope(faults.internal("boom"))
    assert system.find(f".//{{{SOA_ERRORS}}}SystemError") is not None


def test_new_envelope_round_trips():
    payload = etree.Element("{urn:x}p")
    root = parse_xml(serialize(new_envelope(payload)))
    assert read_envelope(root).payload.tag == "{urn:x}p"


def test_soa_texts_come_from_the_catalogue_with_a_fallback():
    from simulator.soap.faults import soa_texts

    french, dutch = soa_texts("SOA-01001")
    assert french.startswith("Utilisateur non reconnu")
    assert dutch.startswith("Gebruiker niet correct aangemeld")
    assert soa_texts("SOA-99999") == soa_texts("SOA-00001")
