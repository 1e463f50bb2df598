"""Our own XSDs (schemas/) and the official bundle: what passes, what fails, and how it is told."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree

from simulator.codecs import etkdepot, sts
from simulator.security import wssecurity
from simulator.soap import faults
from simulator.soap.envelope import new_envelope, serialize
from simulator.soap.namespaces import SOA_ERRORS
from simulator.soap.parser import parse_xml
from simulator.soap.validation import (
    OfficialSchemas,
    ProjectSchemas,
    SchemaLoadError,
    SchemaViolation,
    packaged_schema_dir,
)

REPO = Path(__file__).resolve().parents[2]
SAML1 = "urn:oasis:names:tc:SAML:1.0:assertion"
NOW = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)
TAR_REQUEST = "reconstructed/tarification-TarificationConsultationRequest.xml"
TAR_RESPONSE = "reconstructed/tarification-TarificationConsultationResponse.xml"


@pytest.fixture(scope="module")
def schemas() -> ProjectSchemas:
    return ProjectSchemas()


@pytest.fixture(scope="module")
def official(shared_reference: Path) -> OfficialSchemas:
    return OfficialSchemas(shared_reference / "xsd")


def reparse(element: etree._Element) -> etree._Element:
    """Serialize and parse again, as the server sees a message (real source lines)."""
    return parse_xml(serialize(element))


def find(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path)
    assert found is not None, path
    return found


def sample(shared_reference: Path, relative: str) -> bytes:
    data = (shared_reference / "samples" / relative).read_bytes()
    # One EC sample ends with a stray byte after the envelope (SOURCES.md).
    end = data.rindex(b"Envelope>") + len(b"Envelope>") if b"Envelope>" in data else len(data)
    return data[:end]


# --- packaging --------------------------------------------------------------------------------


def test_source_checkout_uses_repo_schemas_and_every_kind_compiles(schemas: ProjectSchemas) -> None:
    assert packaged_schema_dir() == REPO / "schemas"
    assert schemas.kinds() >= {
        "envelope",
        "security-header",
        "sts-request",
        "sts-response",
        "etk-request",
        "etk-response",
        "tarification-request",
        "tarification-response",
    }
    for kind in schemas.kinds():
        assert isinstance(schemas.schema(kind), etree.XMLSchema)


def test_every_schema_file_says_what_it_covers_and_what_it_follows() -> None:
    files = sorted((REPO / "schemas").glob("*.xsd"))
    assert files
    for path in files:
        root = etree.parse(str(path)).getroot()
        comment = root.getprevious()
        assert isinstance(comment, etree._Comment), path.name
        assert "Follows" in (comment.text or ""), path.name


def test_every_schema_file_also_loads_in_xmlschema() -> None:
    # xmlschema gives the clearer explanations in reports; unlike the official commons v2 files,
    # ours must load there too.
    xmlschema = pytest.importorskip("xmlschema")
    for path in sorted((REPO / "schemas").glob("*.xsd")):
        xmlschema.XMLSchema(str(path))


def test_unknown_kind_is_a_key_error(schemas: ProjectSchemas) -> None:
    with pytest.raises(KeyError):
        schemas.validate(etree.Element("x"), "no-such-kind")


# --- reference samples ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("tarification-TarificationConsultationRequest.xml", "tarification-request"),
        ("tarification-TarificationConsultationResponse.xml", "tarification-response"),
    ],
)
def test_reconstructed_tarification_samples_pass_ours_and_the_official_schema(
    schemas: ProjectSchemas, official: OfficialSchemas, shared_reference: Path, name: str, kind: str
) -> None:
    root = parse_xml(sample(shared_reference, f"reconstructed/{name}"))
    assert schemas.validate(root, kind) is None
    assert official.knows(root)
    assert official.validate(root) is None


@pytest.mark.parametrize(
    "name",
    [
        "wss-saml11-hok-signed-example.xml",
        "wss-x509-bst-signed-example.xml",
        "wss-usernametoken-x509-signed-example-legacy-mycarenet.xml",
    ],
)
def test_ws_security_samples_pass_envelope_and_security_header(
    schemas: ProjectSchemas, shared_reference: Path, name: str
) -> None:
    root = parse_xml(sample(shared_reference, f"wssecurity/{name}"))
    assert schemas.validate(root, "envelope") is None
    security = find(root, f".//{{{sts.WSSE}}}Security")
    assert schemas.validate(security, "security-header") is None


def test_security_header_rejects_what_the_simulator_does_not_accept(
    schemas: ProjectSchemas, shared_reference: Path
) -> None:
    data = sample(shared_reference, "wssecurity/wss-x509-bst-signed-example.xml")
    # A Timestamp without Created: the security layer needs both instants.
    broken = data.replace(b"<wsu:Created>2023-12-12T06:58:26.085Z</wsu:Created>", b"")
    root = parse_xml(broken)
    violation = schemas.validate(find(root, f".//{{{sts.WSSE}}}Security"), "security-header")
    assert violation is not None
    assert violation.path is not None and violation.path.endswith("/Security/Timestamp/Expires")
    assert "expected Created" in violation.message


# --- what our own code builds -----------------------------------------------------------------


def test_etk_request_and_responses_built_by_the_codec_validate(schemas: ProjectSchemas) -> None:
    request = reparse(new_envelope(etkdepot.build_request("CBE", "0809394427", "MYCARENET")))
    assert schemas.validate(request, "envelope") is None
    assert schemas.validate(request[1][0], "etk-request") is None

    found = etkdepot.build_response(etk=b"\x30\x03etk", message=None, response_id="_r1", now=NOW)
    missing = etkdepot.build_response(etk=None, message="no ETK", response_id="_r2", now=NOW)
    for response in (found, missing):
        envelope = reparse(new_envelope(response))
        assert schemas.validate(envelope, "envelope") is None
        assert schemas.validate(envelope[1][0], "etk-response") is None


def _identity() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def _certificate() -> x509.Certificate:
    return _identity()[1]


def test_security_headers_we_sign_validate(schemas: ProjectSchemas) -> None:
    key, certificate = _identity()
    x509_signed = new_envelope(etkdepot.build_request("CBE", "0809394427", None))
    wssecurity.sign_envelope_x509(x509_signed, key, certificate, now=NOW)
    assertion = etree.Element(f"{{{SAML1}}}Assertion", AssertionID="_a1", MajorVersion="1")
    saml_signed = new_envelope(etkdepot.build_request("CBE", "0809394427", None))
    wssecurity.sign_envelope_saml(saml_signed, assertion, key, now=NOW)
    for envelope in (x509_signed, saml_signed):
        root = reparse(envelope)
        assert schemas.validate(root, "envelope") is None
        security = find(root, f".//{{{sts.WSSE}}}Security")
        assert schemas.validate(security, "security-header") is None


def test_sts_request_and_response_built_by_the_codec_validate(schemas: ProjectSchemas) -> None:
    request = sts.build_request(
        _certificate(),
        "00000000097",
        ("urn:be:fgov:person:ssin:ehealth:1.0:doctor:nihii11",),
        context="ctx-1",
        created=NOW,
        expires=NOW + timedelta(hours=1),
    )
    assert schemas.validate(reparse(new_envelope(request)), "envelope") is None
    assert schemas.validate(reparse(request), "sts-request") is None

    assertion = etree.Element(f"{{{SAML1}}}Assertion", AssertionID="_a1", MajorVersion="1")
    etree.SubElement(assertion, f"{{{SAML1}}}Conditions")
    response = sts.build_response(
        assertion, context="ctx-1", created=NOW, expires=NOW + timedelta(hours=24)
    )
    assert schemas.validate(reparse(response), "sts-response") is None


def test_sts_request_without_request_type_is_refused(schemas: ProjectSchemas) -> None:
    request = sts.build_request(
        _certificate(), "00000000097", (), context="c", created=NOW, expires=NOW
    )
    request.remove(find(request, f"{{{sts.WST}}}RequestType"))
    violation = schemas.validate(reparse(request), "sts-request")
    assert violation is not None
    assert violation.path == "/RequestSecurityToken"
    assert "RequestType" in violation.message


@pytest.mark.parametrize(
    "fault",
    [
        faults.not_xsd_conform("line 3, /Envelope/Body: bad"),
        faults.internal("boom"),
        faults.unauthenticated("no token", "InvalidSecurity"),
        faults.SoapFault("SOA-02002", "busy", faultcode="Server", retry=True),
    ],
    ids=["business", "system", "wsse", "retry"],
)
def test_faults_validate_including_their_soa_detail(
    schemas: ProjectSchemas, fault: faults.SoapFault
) -> None:
    envelope = reparse(faults.fault_envelope(fault))
    assert schemas.validate(envelope, "envelope") is None
    error = find(envelope, f".//{{{SOA_ERRORS}}}*")
    assert schemas.validate(error, "soa-error") is None


def test_envelope_kind_checks_the_soa_detail_inside_a_fault(schemas: ProjectSchemas) -> None:
    envelope = faults.fault_envelope(faults.internal("boom"))
    environment = find(envelope, f".//{{{SOA_ERRORS}}}Environment")
    environment.text = "Staging"
    violation = schemas.validate(reparse(envelope), "envelope")
    assert violation is not None
    assert violation.path == "/Envelope/Body/Fault/detail/SystemError/Environment"
    assert "Staging" in violation.message


# --- how failures are reported ----------------------------------------------------------------

ETK_ENVELOPE = b"""<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Header/>
  <soap:Body>
    <GetEtkRequest xmlns="urn:be:fgov:ehealth:etkdepot:1_0:protocol">
      <SearchCriteria>
        <Identifier><Type>CBE</Type><Value>0809394427</Value></Identifier>
        %s
      </SearchCriteria>
    </GetEtkRequest>
  </soap:Body>
</soap:Envelope>"""


def test_missing_child_reports_original_line_and_full_path(schemas: ProjectSchemas) -> None:
    root = parse_xml(
        ETK_ENVELOPE.replace(
            b"<Identifier><Type>CBE</Type><Value>0809394427</Value></Identifier>", b""
        ).replace(b"%s", b"")
    )
    payload = root[1][0]  # validated as a subtree: lines and path still refer to the document
    violation = schemas.validate(payload, "etk-request")
    assert violation == SchemaViolation(
        line=6,
        path="/Envelope/Body/GetEtkRequest/SearchCriteria",
        message="Missing child element(s): expected Identifier",
    )
    assert violation.describe() == (
        "line 6, /Envelope/Body/GetEtkRequest/SearchCriteria: "
        "Missing child element(s): expected Identifier"
    )


def test_unexpected_element_names_it_and_indexes_repeated_siblings(schemas: ProjectSchemas) -> None:
    second = b"<Identifier><Type>SSIN</Type><Value>1</Value><Colour/></Identifier>"
    root = parse_xml(ETK_ENVELOPE.replace(b"%s", second))
    violation = schemas.validate(root[1][0], "etk-request")
    assert violation is not None
    assert violation.line == 8
    assert violation.path == "/Envelope/Body/GetEtkRequest/SearchCriteria/Identifier[2]/Colour"
    assert violation.message.startswith("Unexpected element Colour")
    assert "{" not in violation.message  # no Clark names


def test_bad_attribute_and_bad_value_are_located(
    schemas: ProjectSchemas, shared_reference: Path
) -> None:
    data = sample(shared_reference, TAR_REQUEST)
    bad_instant = parse_xml(
        data.replace(b'IssueInstant="2024-01-10T10:00:00+01:00"', b'IssueInstant="yesterday"')
    )
    violation = schemas.validate(bad_instant, "tarification-request")
    assert violation is not None
    assert violation.line == 4  # the line of the attribute, inside the multi-line start tag
    assert violation.path == "/TarificationConsultationRequest"
    assert "IssueInstant" in violation.message and "yesterday" in violation.message

    bad_date = parse_xml(
        data.replace(b"2024-01-10</c:ReferenceDate>", b"10/01/2024</c:ReferenceDate>")
    )
    violation = schemas.validate(bad_date, "tarification-request")
    assert violation is not None
    assert violation.line == 21
    assert violation.path == "/TarificationConsultationRequest/Routing/ReferenceDate"


def test_wrong_root_for_the_kind_is_a_violation(schemas: ProjectSchemas) -> None:
    request = reparse(etkdepot.build_request("CBE", "1", None))
    violation = schemas.validate(request, "etk-response")
    assert violation is not None
    assert violation.path == "/GetEtkRequest"
    assert "Expected GetEtkResponse" in violation.message


def test_describe_without_location_is_the_message() -> None:
    assert SchemaViolation(None, None, "Bad").describe() == "Bad"
    assert SchemaViolation(None, "/A", "Bad").describe() == "/A: Bad"


# --- ours against the official judge ----------------------------------------------------------

MUTATIONS = {
    "as is": (b"", b""),
    "no Routing": (
        b"<p:Routing>\n    <c:CareReceiver><c:Ssin>00011317652</c:Ssin></c:CareReceiver>\n"
        b"    <c:ReferenceDate>2024-01-10</c:ReferenceDate>\n  </p:Routing>",
        b"",
    ),
    "no ReferenceDate": (b"<c:ReferenceDate>2024-01-10</c:ReferenceDate>", b""),
    "Name after License": (
        b"</c:Name>\n        <c:License><c:Username>lic-user</c:Username>"
        b"<c:Password>lic-pass</c:Password></c:License>",
        b"</c:Name>\n        <c:License><c:Username>lic-user</c:Username>"
        b"<c:Password>lic-pass</c:Password></c:License><c:Name>again</c:Name>",
    ),
    "IsTest not boolean": (b"<c:IsTest>true</c:IsTest>", b"<c:IsTest>maybe</c:IsTest>"),
    "Detail without ContentType": (b'ContentType="text/xml" ', b""),
    "Detail with foreign attribute": (
        b'ContentEncoding="none"',
        b'ContentEncoding="none" Size="3"',
    ),
    "Xades after Detail": (
        b"</p:Detail>",
        b"</p:Detail>\n  <p:Xades>AAAA</p:Xades>",
    ),
    "Xades before Detail": (b"<p:Detail ", b"<p:Xades>AAAA</p:Xades><p:Detail "),
    "Ssin before Name": (
        b"<c:PhysicalPerson><c:Ssin>00000000097</c:Ssin></c:PhysicalPerson>",
        b"<c:PhysicalPerson><c:Ssin>00000000097</c:Ssin><c:Name>x</c:Name></c:PhysicalPerson>",
    ),
    "Period with Start only": (
        b"</c:ReferenceDate>",
        b"</c:ReferenceDate><c:Period><c:Start>2024-01-01</c:Start></c:Period>",
    ),
    "no Id on request": (b'Id="_t1" ', b""),
}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=list(MUTATIONS))
def test_project_tarification_schema_agrees_with_the_official_one(
    schemas: ProjectSchemas, official: OfficialSchemas, shared_reference: Path, mutation: str
) -> None:
    data = sample(shared_reference, TAR_REQUEST)
    old, new = MUTATIONS[mutation]
    assert old in data
    root = parse_xml(data.replace(old, new) if old else data)
    ours = schemas.validate(root, "tarification-request")
    theirs = official.validate(root)
    assert (ours is None) == (theirs is None), (ours, theirs)
    if ours is not None and theirs is not None:
        assert ours.describe() == theirs.describe()


# --- the official bundle ----------------------------------------------------------------------


def test_official_schemas_know_the_roots_of_the_bundle(official: OfficialSchemas) -> None:
    tarification = "{urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1}"
    assert official.knows(etree.Element(f"{tarification}TarificationConsultationRequest"))
    assert official.knows(
        etree.Element(
            "{http://www.ehealth.fgov.be/messageservices/protocol/v1}RetrieveTransactionRequest"
        )
    )
    assert official.knows(etree.Element("{urn:be:cin:nip:async:generic}post"))
    # No ETK depot or WS-Trust schema in the bundle: unknown, and validation passes them through.
    etk = etkdepot.build_request("CBE", "1", None)
    assert not official.knows(etk)
    assert official.validate(etk) is None


def test_official_validation_fails_where_it_should(
    official: OfficialSchemas, shared_reference: Path
) -> None:
    data = sample(shared_reference, TAR_RESPONSE)
    root = parse_xml(
        data.replace(b"<p:CommonOutput>", b"<p:Output>").replace(
            b"</p:CommonOutput>", b"</p:Output>"
        )
    )
    violation = official.validate(root)
    assert violation is not None
    assert violation.path == "/TarificationConsultationResponse/Return/Output"
    assert violation.line == 6


def test_missing_official_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaLoadError, match="does not exist"):
        OfficialSchemas(tmp_path / "nowhere")


def test_official_schemas_load_without_any_socket(
    shared_reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("schema loading tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    fresh = OfficialSchemas(shared_reference / "xsd")
    kmehr = etree.fromstring(
        b'<RetrieveTransactionRequest xmlns="http://www.ehealth.fgov.be/messageservices/protocol/v1"/>'
    )
    assert fresh.validate(kmehr) is not None  # compiled messageservices + KMEHR: it has children
    assert set(fresh.compile_seconds) == {
        "ehealth-messageservices/XSD/messageservices_protocol-1_2.xsd"
    }


def test_remote_schema_imports_are_refused_and_never_fetched(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    (tmp_path / "entry.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x"'
        ' xmlns:r="urn:remote">'
        f'<xs:import namespace="urn:remote" schemaLocation="http://127.0.0.1:{port}/r.xsd"/>'
        '<xs:element name="Root" type="r:T"/></xs:schema>'
    )
    bundle = OfficialSchemas(tmp_path, entry_points=("entry.xsd",))
    with pytest.raises(
        SchemaLoadError, match=f"refused non-local imports: http://127.0.0.1:{port}"
    ):
        bundle.validate(etree.Element("{urn:x}Root"))
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()
