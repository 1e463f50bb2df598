"""XSD validation of incoming and outgoing messages: our own schemas and the official ones.

`ProjectSchemas` checks a message (or a part of one) against the schemas in `schemas/`, which
describe exactly what the simulator accepts and emits. `OfficialSchemas` checks a payload against
the eHealth/MyCareNet XSD bundle when the user points us at one. Both compile lazily with lxml
(libxml2 is ~40x faster than xmlschema on the hot path) and never touch the network: every import
is resolved from local files and any other URL is refused.

A failure comes back as one `SchemaViolation` (the first error libxml2 reports) with the line in
the original request and a namespace-free path, ready for a SOA-03006 fault.
"""

from __future__ import annotations

import importlib.resources
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit
from urllib.request import url2pathname

from lxml import etree

import simulator

_XSD = "http://www.w3.org/2001/XMLSchema"


class SchemaLoadError(RuntimeError):
    """A schema file is missing, unreadable or tries to reach outside the local disk."""


@dataclass(frozen=True)
class SchemaViolation:
    line: int | None  # line in the request document
    path: str | None  # e.g. /Envelope/Body/GetEtkRequest/SearchCriteria (local names only)
    message: str  # libxml2's text without namespace URIs

    def describe(self) -> str:
        where = ", ".join(
            part for part in (f"line {self.line}" if self.line else None, self.path) if part
        )
        return f"{where}: {self.message}" if where else self.message


# --- loading ----------------------------------------------------------------------------------


class _LocalFilesOnly(etree.Resolver):
    """Reads local files (their xs:ID types made xs:NCName, see `_without_id_types`) and
    refuses every other URL scheme."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []

    # lxml passes a context argument that lxml-stubs leave out.
    def resolve(  # type: ignore[override]
        self, system_url: str | None, public_id: str | None, context: Any
    ) -> Any:
        scheme = urlsplit(system_url or "").scheme.lower()
        # A one-letter scheme is a Windows drive ("C:/...").
        if scheme in ("", "file") or len(scheme) == 1:
            url = system_url or ""
            path = Path(url2pathname(urlsplit(url).path) if scheme == "file" else url)
            try:
                text = path.read_bytes()
            except OSError:
                return None  # libxml2 then reports the unreadable import itself
            return self.resolve_string(_without_id_types(text), context, base_url=url)
        # libxml2 reports the import as unreadable; we remember why for the error message.
        self.refused.append(system_url or "")
        raise SchemaLoadError(f"schema import of {system_url!r} refused: only local files are used")


def _schema_parser() -> tuple[etree.XMLParser, _LocalFilesOnly]:
    parser = etree.XMLParser(
        no_network=True, resolve_entities=False, load_dtd=False, remove_comments=True
    )
    resolver = _LocalFilesOnly()
    parser.resolvers.add(resolver)
    return parser, resolver


# A declaration of the XSD namespace, default (group 1 None) or with a prefix.
_XSD_PREFIX = re.compile(
    rb"""xmlns(?::([A-Za-z_][\w.-]*))?\s*=\s*["']http://www\.w3\.org/2001/XMLSchema["']"""
)


def _without_id_types(text: bytes) -> bytes:
    """A schema document's text with xs:ID read as xs:NCName.

    libxml2 enters every xs:ID value it validates into the document's ID table, whose keys it
    interns in the string dictionary lxml shares between all the documents of a thread and
    never shrinks: each request's fresh wsu:Id/Id values stayed in memory for good (about
    200 bytes a request, 200 MB per million). xs:NCName is xs:ID's lexical space, so every
    verdict stays the same but one: uniqueness, which security/xmldsig.index_ids checks on
    every signed message (and refuses as signature wrapping).

    Done on the text, not a tree: some official files declare namespaces (a
    `...:v{version.major}` template) that libxml2's schema loader tolerates and lxml's parser
    refuses.
    """
    for prefix in {match.group(1) for match in _XSD_PREFIX.finditer(text)}:
        qname = prefix + b":ID" if prefix else b"ID"
        text = re.sub(
            rb"""(\b(?:type|base|itemType)\s*=\s*["'])""" + re.escape(qname) + rb"""(["'])""",
            rb"\g<1>" + (prefix + b":NCName" if prefix else b"NCName") + rb"\g<2>",
            text,
        )
    return text


def _compile(entry_files: Iterable[Path]) -> etree.XMLSchema:
    """One XMLSchema covering all `entry_files` (each with its own target namespace)."""
    files = list(entry_files)
    parser, resolver = _schema_parser()
    try:
        if len(files) == 1:
            path = files[0].resolve()
            document = etree.ElementTree(
                etree.fromstring(
                    _without_id_types(path.read_bytes()), parser, base_url=path.as_uri()
                )
            )
        else:
            # A driver schema that imports each entry file: lets one validation see, for example,
            # both the SOAP envelope and the SOA error detail inside a Fault.
            driver = etree.Element(f"{{{_XSD}}}schema", nsmap={"xs": _XSD})
            for path in files:
                etree.SubElement(
                    driver,
                    f"{{{_XSD}}}import",
                    namespace=_target_namespace(path, parser),
                    schemaLocation=path.resolve().as_uri(),
                )
            document = etree.ElementTree(
                etree.fromstring(
                    etree.tostring(driver),
                    parser,
                    # A name of its own: libxml2 refuses a schema that imports its own URL.
                    base_url=(files[0].resolve().parent / "_driver.xsd").as_uri(),
                )
            )
        return etree.XMLSchema(document)
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as error:
        names = ", ".join(str(path) for path in files)
        refused = ""
        if resolver.refused:
            refused = f" (refused non-local imports: {', '.join(resolver.refused)})"
        raise SchemaLoadError(f"cannot load schema {names}: {error}{refused}") from error


def _target_namespace(path: Path, parser: etree.XMLParser) -> str:
    namespace = etree.parse(str(path), parser).getroot().get("targetNamespace")
    if namespace is None:
        raise SchemaLoadError(f"{path} has no targetNamespace")
    return namespace


def packaged_schema_dir() -> Path:
    """`schemas/` as shipped in the wheel (simulator/_schemas) or in a source checkout."""
    packaged = importlib.resources.files("simulator") / "_schemas"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(simulator.__file__).resolve().parents[1] / "schemas"


# --- reporting --------------------------------------------------------------------------------


def _violation(schema: etree.XMLSchema, validated: etree._Element) -> SchemaViolation:
    # lxml-stubs do not declare _ErrorLog iterable; it is, in report order.
    entries: list[Any] = list(cast(Iterable[Any], schema.error_log))
    if not entries:
        return SchemaViolation(_line(validated), _document_path(validated), "not schema-valid")
    first = entries[0]
    error_path: str | None = getattr(first, "path", None)
    target = _locate(validated, error_path) if error_path else None
    line = first.line if isinstance(first.line, int) and first.line > 0 else None
    if target is not None:
        path: str | None = _document_path(target)
        line = line or _line(target)
    else:
        path = _strip_prefixes(error_path) if error_path else _document_path(validated)
    return SchemaViolation(line, path, _clean_message(first.message))


_STEP = re.compile(r"^(?:(?P<prefix>[^:\[]+):)?(?P<name>[^\[]+)(?:\[(?P<index>\d+)\])?$")


def _locate(validated: etree._Element, error_path: str) -> etree._Element | None:
    """The element libxml2 names in `error_path` (relative to the validated element).

    libxml2 writes `prefix:name[n]` for prefixed elements and `*[n]` (n-th element child) for
    elements in a default namespace; the first step is the validated element itself.
    """
    steps = [step for step in error_path.split("/") if step][1:]
    current = validated
    for step in steps:
        match = _STEP.match(step)
        if match is None:
            return None
        index = int(match["index"] or 1)
        children = [child for child in current if isinstance(child.tag, str)]
        if match["name"] != "*":
            children = [
                child
                for child in children
                if etree.QName(child).localname == match["name"] and child.prefix == match["prefix"]
            ]
        if index > len(children):
            return None
        current = children[index - 1]
    return current


def _document_path(element: etree._Element) -> str:
    """/Envelope/Body/Request/Item[2]: local names, an index only where siblings share a name."""
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        name = etree.QName(node).localname if isinstance(node.tag, str) else "node()"
        parent = node.getparent()
        if parent is not None:
            same = [sibling for sibling in parent if sibling.tag == node.tag]
            if len(same) > 1:
                name = f"{name}[{same.index(node) + 1}]"
        steps.append(name)
        node = parent
    return "/" + "/".join(reversed(steps))


def _strip_prefixes(path: str) -> str:
    return re.sub(r"[^/:\[\]]+:", "", path)


_MAX_MESSAGE = 300
_CLARK = re.compile(r"\{[^}\s',]+\}")  # {uri}: a namespace URI has no blanks, quotes or commas


_ELEMENT_PREFIX = re.compile(
    r"^Element '(?P<element>[^']*)'(?:, (?P<attribute>attribute '[^']*'))?: "
)
_EXPECTED = re.compile(r"\s*Expected is (?P<one_of>one of )?\( (?P<names>.*?) \)\.?")


def _clean_message(message: str) -> str:
    """libxml2's message without `Element '{uri}x': ` noise and with local names only."""
    text = message.strip()
    element = ""
    match = _ELEMENT_PREFIX.match(text)
    if match:
        element = _local(match["element"])
        text = text[match.end() :]
        attribute = match["attribute"]
        # "The attribute 'x' is not allowed" already names it; other messages do not.
        if attribute and attribute.lower() not in text.lower():
            text = f"{_local(attribute)}: {text}"
    text = _local(text)
    if text.startswith("This element is not expected"):
        text = f"unexpected element {element}" + text[len("This element is not expected") :]
    text = _EXPECTED.sub(
        lambda m: f": expected {'one of ' if m['one_of'] else ''}{m['names']}", text
    )
    text = text.replace(".:", ":").rstrip(".")
    if len(text) > _MAX_MESSAGE:  # enumerations of KMEHR code lists run to kilobytes
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text[:1].upper() + text[1:]


def _local(name: str) -> str:
    return _CLARK.sub("", name)


def _line(element: etree._Element) -> int | None:
    line = element.sourceline
    return line if isinstance(line, int) else None


# --- our own schemas --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    files: tuple[str, ...]  # entry files in schemas/
    roots: frozenset[str]  # Clark names allowed as the validated element


def _roots(namespace: str, *names: str) -> frozenset[str]:
    return frozenset(f"{{{namespace}}}{name}" for name in names)


_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_WST = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
_ETK = "urn:be:fgov:ehealth:etkdepot:1_0:protocol"
_TAR = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1"
_SOA = "urn:be:fgov:ehealth:errors:soa:v1"
_MDA = "urn:be:fgov:ehealth:mycarenet:memberdata:protocol:v1"

# Request and response kinds share their files (compiled once) but not their allowed roots.
KINDS: Mapping[str, _Kind] = {
    "envelope": _Kind(("soap-envelope-1.1.xsd", "soa-errors-1.1.xsd"), _roots(_SOAP, "Envelope")),
    "soa-error": _Kind(("soa-errors-1.1.xsd",), _roots(_SOA, "BusinessError", "SystemError")),
    "security-header": _Kind(("wss-security-header.xsd",), _roots(_WSSE, "Security")),
    "sts-request": _Kind(("ws-trust-1.3.xsd",), _roots(_WST, "RequestSecurityToken")),
    "sts-response": _Kind(
        ("ws-trust-1.3.xsd",),
        _roots(_WST, "RequestSecurityTokenResponseCollection", "RequestSecurityTokenResponse"),
    ),
    "etk-request": _Kind(("etkdepot-protocol-1_0.xsd",), _roots(_ETK, "GetEtkRequest")),
    "etk-response": _Kind(("etkdepot-protocol-1_0.xsd",), _roots(_ETK, "GetEtkResponse")),
    "tarification-request": _Kind(
        ("mycarenet-tarification-protocol-v1.xsd",), _roots(_TAR, "TarificationConsultationRequest")
    ),
    "tarification-response": _Kind(
        ("mycarenet-tarification-protocol-v1.xsd",),
        _roots(_TAR, "TarificationConsultationResponse"),
    ),
    "memberdata-request": _Kind(
        ("mycarenet-memberdata-protocol-v1.xsd",), _roots(_MDA, "MemberDataConsultationRequest")
    ),
    "memberdata-response": _Kind(
        ("mycarenet-memberdata-protocol-v1.xsd",), _roots(_MDA, "MemberDataConsultationResponse")
    ),
    # MediPrima consultation v1/v2 and UMA (elementFormDefault unqualified below the root).
    **{
        f"mediprima-v{v}-{role}": _Kind(
            (f"mediprima-protocol-v{v}.xsd",),
            _roots(f"urn:be:fgov:ehealth:mediprima:protocol:v{v}", f"ConsultCarmedIntervention{r}"),
        )
        for v in (1, 2)
        for role, r in (("request", "Request"), ("response", "Response"))
    },
    **{
        f"uma-{role}": _Kind(
            ("mediprima-uma-protocol-v1.xsd",),
            _roots(
                "urn:be:fgov:ehealth:mediprima:uma:protocol:v1",
                *(f"{op}UrgentMedicalAidAttestation{r}" for op in ("Send", "Search", "Delete")),
            ),
        )
        for role, r in (("request", "Request"), ("response", "Response"))
    },
    # GenAsync v1 (eFact, eGMD): lower-case roots; the fault detail is a response kind too.
    "genasync-request": _Kind(
        ("genasync-v1.xsd",), _roots("urn:be:cin:nip:async:generic", "post", "get", "confirm")
    ),
    "genasync-response": _Kind(
        ("genasync-v1.xsd",),
        _roots(
            "urn:be:cin:nip:async:generic",
            *("postResponse", "getResponse", "confirmResponse", "fault"),
        ),
    ),
    "eattest-request": _Kind(
        ("mycarenet-attest-protocol-v3.xsd",),
        _roots(
            "urn:be:fgov:ehealth:mycarenet:attest:protocol:v3",
            "SendAttestationRequest",
            "CancelAttestationRequest",
        ),
    ),
    "eattest-response": _Kind(
        ("mycarenet-attest-protocol-v3.xsd",),
        _roots(
            "urn:be:fgov:ehealth:mycarenet:attest:protocol:v3",
            "SendAttestationResponse",
            "CancelAttestationResponse",
        ),
    ),
    # eAttest v2 and v1 (v1 sends only): the same messages over commons v3.
    **{
        f"eattest-v{v}-{role}": _Kind(
            (f"mycarenet-attest-protocol-v{v}.xsd",),
            _roots(
                f"urn:be:fgov:ehealth:mycarenet:attest:protocol:v{v}",
                *(f"{op}Attestation{r}" for op in operations),
            ),
        )
        for v, operations in ((2, ("Send", "Cancel")), (1, ("Send",)))
        for role, r in (("request", "Request"), ("response", "Response"))
    },
}


class ProjectSchemas:
    """The simulator's own schemas, by kind ("envelope", "etk-request", ...)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else packaged_schema_dir()
        self._compiled: dict[tuple[str, ...], etree.XMLSchema] = {}

    @staticmethod
    def kinds() -> frozenset[str]:
        return frozenset(KINDS)

    def schema(self, kind: str) -> etree.XMLSchema:
        """The compiled schema of `kind` (KeyError if unknown); compiled on first use."""
        return self._schema_of(KINDS[kind].files)

    def _schema_of(self, files: tuple[str, ...]) -> etree.XMLSchema:
        compiled = self._compiled.get(files)
        if compiled is None:
            compiled = _compile(self.directory / name for name in files)
            self._compiled[files] = compiled
        return compiled

    def validate_request(
        self, envelope: etree._Element, payload_kind: str | None
    ) -> SchemaViolation | None:
        """A whole request in one pass: envelope, WS-Security header and payload.

        The envelope's Header and Body take any element with lax processing, so one schema
        holding all three layers checks every element it declares: the same verdict as three
        passes, at a third of the cost on the hot path.
        """
        files = KINDS["envelope"].files + KINDS["security-header"].files
        if payload_kind is not None:
            files += KINDS[payload_kind].files
        if envelope.tag not in KINDS["envelope"].roots:
            return self.validate(envelope, "envelope")
        schema = self._schema_of(files)
        if schema.validate(envelope):
            return None
        return _violation(schema, envelope)

    def validate(self, element: etree._Element, kind: str) -> SchemaViolation | None:
        spec = KINDS[kind]
        schema = self.schema(kind)
        if element.tag not in spec.roots:
            expected = " or ".join(sorted(_local(root) for root in spec.roots))
            return SchemaViolation(
                _line(element),
                _document_path(element),
                f"Expected {expected} ({kind}), found {_describe_tag(element)}",
            )
        if schema.validate(element):
            return None
        return _violation(schema, element)


def _describe_tag(element: etree._Element) -> str:
    if not isinstance(element.tag, str):
        return "a non-element node"
    qname = etree.QName(element)
    if qname.namespace:
        return f"{qname.localname} in namespace {qname.namespace}"
    return qname.localname


# --- the official bundle ----------------------------------------------------------------------

# Entry XSDs, relative to the bundle root, laid out like shared/reference/xsd (SOURCES.md).
# Earlier entries win when two declare the same root (GenAsync v1 is the eFact one).
# The ETK depot and WS-Trust schemas are not in the bundle: their roots are simply unknown.
OFFICIAL_ENTRY_POINTS: tuple[str, ...] = (
    "ehealth-mycarenet-tarification/XSD/mycarenet-tarification-protocol-1_0.xsd",
    "ehealth-messageservices/XSD/messageservices_protocol-1_2.xsd",
    "ehealth-mycarenet-memberdata/XSD/mycarenet-memberdata-protocol-1_0.xsd",
    "mycarenet-memberdata/XSD/Extensions-simplified.xsd",
    "ehealth-mycarenet-attest/XSD/mycarenet-attest-protocol-3_0.xsd",
    "ehealth-mycarenet-attest/XSD/mycarenet-attest-protocol-2_0.xsd",
    "ehealth-mycarenet-attest/XSD/mycarenet-attest-protocol-1_0.xsd",
    "ehealth-mycarenet-attest/XSD/encryption/businessContent.xsd",
    "mycarenet-genasync/XSD/mycarenet-genasync-v1.xsd",
    "mycarenet-commons/XSD/Reject.xsd",
    "ehealth-mediprima/XSD/ehealth-mediprima-protocol-2_0.xsd",
    "ehealth-mediprima/XSD/ehealth-mediprima-protocol-1_0.xsd",
    "ehealth-mediprima-uma/XSD/ehealth-mediprima-uma-protocol-1_0.xsd",
    "ehealth-errors/XSD/ehealth-errors-schema-soa-1_1.xsd",
)


class OfficialSchemas:
    """Validation of a payload against the official XSD its root element belongs to."""

    def __init__(self, xsd_dir: Path, entry_points: Iterable[str] = OFFICIAL_ENTRY_POINTS) -> None:
        if not xsd_dir.is_dir():
            raise SchemaLoadError(f"official XSD directory {xsd_dir} does not exist")
        self.xsd_dir = xsd_dir
        self._entry_points = tuple(entry_points)
        self._roots: dict[str, str] | None = None
        self._compiled: dict[str, etree.XMLSchema] = {}
        self.compile_seconds: dict[str, float] = {}  # entry -> time its first compile took

    def roots(self) -> Mapping[str, str]:
        """Clark name of every known payload root -> entry XSD (read once, not compiled)."""
        if self._roots is None:
            roots: dict[str, str] = {}
            parser, _ = _schema_parser()
            for entry in self._entry_points:
                path = self.xsd_dir / entry
                if not path.is_file():
                    continue
                try:
                    schema = etree.parse(str(path), parser).getroot()
                except (OSError, etree.XMLSyntaxError) as error:
                    raise SchemaLoadError(f"cannot read official schema {path}: {error}") from error
                namespace = schema.get("targetNamespace")
                for declaration in schema.iterfind(f"{{{_XSD}}}element"):
                    name = declaration.get("name", "")
                    roots.setdefault(f"{{{namespace}}}{name}" if namespace else name, entry)
            self._roots = roots
        return self._roots

    def knows(self, element: etree._Element) -> bool:
        return isinstance(element.tag, str) and element.tag in self.roots()

    def schema_for(self, element: etree._Element) -> etree.XMLSchema | None:
        entry = self.roots().get(element.tag) if isinstance(element.tag, str) else None
        if entry is None:
            return None
        compiled = self._compiled.get(entry)
        if compiled is None:
            started = time.perf_counter()
            compiled = _compile([self.xsd_dir / entry])
            self.compile_seconds[entry] = time.perf_counter() - started
            self._compiled[entry] = compiled
        return compiled

    def validate(self, element: etree._Element) -> SchemaViolation | None:
        schema = self.schema_for(element)
        if schema is None or schema.validate(element):
            return None
        return _violation(schema, element)
