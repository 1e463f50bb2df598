"""GenAsync v1 (`urn:be:cin:nip:async:generic`, wire-formats 5 and 8.5): post, get, confirm.

Plain dataclasses in, XML out (and back), for both sides: the service parses requests and builds
answers, the client builds requests and parses answers. Every builder emits what the official v1
schema accepts; every parser raises `PayloadError` naming the XPath of what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field

from lxml import etree

from simulator.codecs.blob import BlobError, decode_blob, encode_blob, hash_value
from simulator.codecs.mycarenet_commons import MAX_ANSWER_BYTES, MAX_BLOB_BYTES, PayloadError
from simulator.soap.text import text_value

GA = "urn:be:cin:nip:async:generic"
COMMON = "urn:be:cin:mycarenet:esb:common:v2"
TYPES = "urn:be:cin:types:v1"
XML_NS = "http://www.w3.org/XML/1998/namespace"

POST = f"{{{GA}}}post"
GET = f"{{{GA}}}get"
CONFIRM = f"{{{GA}}}confirm"
POST_RESPONSE = f"{{{GA}}}postResponse"
GET_RESPONSE = f"{{{GA}}}getResponse"
CONFIRM_RESPONSE = f"{{{GA}}}confirmResponse"
FAULT = f"{{{GA}}}fault"

RESULT_SUCCESS = "urn:nip:tack:result:major:success"
RESULT_FAILURE = "urn:nip:tack:result:major:failure"
ISSUER_PREFIX = "urn:nip:issuer:io:"
APPLIES_TO_PREFIX = "urn:nip:reference:input:"
DEFAULT_MAX = 100  # the schema's default for Max

_NSMAP = {"ga": GA, "ci": COMMON, "t": TYPES}


def _ga(tag: str) -> str:
    return f"{{{GA}}}{tag}"


def _ci(tag: str) -> str:
    return f"{{{COMMON}}}{tag}"


def _t(tag: str) -> str:
    return f"{{{TYPES}}}{tag}"


# -- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """`OrigineType`: the software package and the care provider the request is for."""

    package_name: str | None
    license_username: str
    license_password: str
    provider_quality: str | None = None
    provider_nihii: str | None = None
    person_name: str | None = None
    person_ssin: str | None = None


@dataclass(frozen=True)
class CommonInput:
    is_test: bool
    origin: Origin
    input_reference: str | None = None
    nip_reference: str | None = None


@dataclass(frozen=True)
class CommonOutput:
    input_reference: str | None = None
    nip_reference: str | None = None
    output_reference: str | None = None


@dataclass(frozen=True)
class Blob:
    """`types:Blob` with its content decoded (inflated when ContentEncoding is deflate)."""

    content: bytes
    message_name: str
    content_type: str = "text/plain"
    content_encoding: str = "deflate"
    id: str | None = None
    reference: str | None = None
    issuer: str | None = None
    # As sent. Builders write the SHA-256 of `content`, or this one when `encoded` is given
    # too (a stored message: its text and hash were written together, at delivery).
    hash_value: str | None = None
    # encryptedForKnownBED (sealed for the insurer) / encryptedForKnownRecipient (for the
    # requester): the content is then a seal (async MemberData, wire-formats 2.2).
    content_encryption: str | None = None
    # The Detail text already encoded (base64 of the content, deflated when so): builders
    # write it as is instead of compressing the content again (stored mailbox messages).
    encoded: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PostRequest:
    common: CommonInput
    detail: Blob
    xades: bytes | None
    # The Detail element as received: XAdES references it by Id and digests its own text.
    detail_element: etree._Element | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TAck:
    content: bytes
    issuer: str
    applies_to: str
    result_major: str = RESULT_SUCCESS
    result_minor: str | None = None
    result_message: str | None = None
    id: str | None = None
    reference: str | None = None

    @property
    def success(self) -> bool:
        return self.result_major == RESULT_SUCCESS


@dataclass(frozen=True)
class Query:
    include: bool = True
    max: int = DEFAULT_MAX


@dataclass(frozen=True)
class GetRequest:
    origin: Origin
    msg_query: Query
    message_names: tuple[str, ...]  # empty = every name
    tack_query: Query
    include_ios: tuple[str, ...] = ()
    exclude_ios: tuple[str, ...] = ()
    query_reference: str | None = None


@dataclass(frozen=True)
class MsgResponse:
    common: CommonOutput
    detail: Blob
    xades: bytes


@dataclass(frozen=True)
class TAckResponse:
    tack: TAck
    xades: bytes


@dataclass(frozen=True)
class GetResponse:
    messages: tuple[MsgResponse, ...]
    tacks: tuple[TAckResponse, ...]


@dataclass(frozen=True)
class ConfirmRequest:
    origin: Origin
    msg_hash_values: tuple[bytes, ...] = ()
    msg_references: tuple[str, ...] = ()
    tack_contents: tuple[bytes, ...] = ()
    tack_references: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaultDetail:
    code: str
    source: str
    location: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Fault:
    code: str  # e.g. INPUT_ERROR, VALIDATION_ERROR, AUTHORIZATION_ERROR
    source: str  # e.g. MYCARENET
    message: str
    details: tuple[FaultDetail, ...] = ()
    lang: str = "en"


# -- TAck content -----------------------------------------------------------------------------


def tack_content(request: bytes, result_major: str) -> bytes:
    """HMAC-SHA256 of the request keyed with the UTF-8 ResultMajor (the XSD's rule).

    "The request" is taken as the posted content (decoded Detail): what the XAdES signs, so a
    client can recompute it without reproducing our serialisation of the envelope.
    """
    return hmac.new(result_major.encode("utf-8"), request, hashlib.sha256).digest()


# -- requests: build --------------------------------------------------------------------------


def build_post(common: CommonInput, detail: Blob, *, xades: bytes | None = None) -> etree._Element:
    root = etree.Element(POST, nsmap=_NSMAP)
    _add_common_input(root, common)
    add_blob(root, "Detail", detail)
    if xades is not None:
        etree.SubElement(root, _ga("Xades-t")).text = _b64(xades)
    return root


def build_get(request: GetRequest) -> etree._Element:
    root = etree.Element(GET, nsmap=_NSMAP)
    _add_origin(root, _ga("Origin"), request.origin)
    if request.include_ios or request.exclude_ios or request.query_reference:
        params = etree.SubElement(root, _ga("QueryParameters"))
        if request.query_reference:
            params.set("Reference", request.query_reference)
        etree.SubElement(params, _ga("includeIOs")).text = " ".join(request.include_ios)
        etree.SubElement(params, _ga("excludeIOs")).text = " ".join(request.exclude_ios)
    msg = _add_query(root, "MsgQuery", request.msg_query)
    etree.SubElement(msg, _ga("MessageNames")).text = " ".join(request.message_names)
    _add_query(root, "TAckQuery", request.tack_query)
    return root


def build_confirm(request: ConfirmRequest) -> etree._Element:
    root = etree.Element(CONFIRM, nsmap=_NSMAP)
    _add_origin(root, _ga("Origin"), request.origin)
    lists: tuple[tuple[str, list[str]], ...] = (
        ("MsgHashValues", [_b64(v) for v in request.msg_hash_values]),
        ("MsgRefValues", list(request.msg_references)),
        ("TAckContents", [_b64(v) for v in request.tack_contents]),
        ("TAckReferences", list(request.tack_references)),
    )
    for name, values in lists:
        if values:
            etree.SubElement(root, _ga(name)).text = " ".join(values)
    return root


# -- requests: parse --------------------------------------------------------------------------


def parse_post(element: etree._Element) -> PostRequest:
    _expect(element, POST)
    common_element = _child(element, _ga("CommonInput"), "/post/CommonInput")
    detail_element = _child(element, _ga("Detail"), "/post/Detail")
    xades_element = element.find(_ga("Xades-t"))
    xades = None
    if xades_element is not None:
        xades = _unb64(xades_element.text or "", "/post/Xades-t")
    return PostRequest(
        common=_read_common_input(common_element, "/post/CommonInput"),
        detail=read_blob(detail_element, "/post/Detail"),
        xades=xades,
        detail_element=detail_element,
    )


def parse_get(element: etree._Element) -> GetRequest:
    _expect(element, GET)
    origin = _read_origin(_child(element, _ga("Origin"), "/get/Origin"), "/get/Origin")
    params = element.find(_ga("QueryParameters"))
    msg = _child(element, _ga("MsgQuery"), "/get/MsgQuery")
    names = _words(msg.findtext(_ga("MessageNames")))
    return GetRequest(
        origin=origin,
        msg_query=_read_query(msg, "/get/MsgQuery"),
        message_names=tuple(names),
        tack_query=_read_query(
            _child(element, _ga("TAckQuery"), "/get/TAckQuery"), "/get/TAckQuery"
        ),
        include_ios=tuple(_words(params.findtext(_ga("includeIOs")))) if params is not None else (),
        exclude_ios=tuple(_words(params.findtext(_ga("excludeIOs")))) if params is not None else (),
        query_reference=params.get("Reference") if params is not None else None,
    )


def parse_confirm(element: etree._Element) -> ConfirmRequest:
    _expect(element, CONFIRM)
    origin = _read_origin(_child(element, _ga("Origin"), "/confirm/Origin"), "/confirm/Origin")

    def binaries(name: str) -> tuple[bytes, ...]:
        words = _words(element.findtext(_ga(name)))
        return tuple(_unb64(word, f"/confirm/{name}") for word in words)

    return ConfirmRequest(
        origin=origin,
        msg_hash_values=binaries("MsgHashValues"),
        msg_references=tuple(_words(element.findtext(_ga("MsgRefValues")))),
        tack_contents=binaries("TAckContents"),
        tack_references=tuple(_words(element.findtext(_ga("TAckReferences")))),
    )


# -- answers: build ---------------------------------------------------------------------------


def build_post_response(tack: TAck) -> etree._Element:
    root = etree.Element(POST_RESPONSE, nsmap={"ga": GA})
    _add_tack(root, "return", tack)
    return root


def build_get_response(response: GetResponse) -> etree._Element:
    root = etree.Element(GET_RESPONSE, nsmap=_NSMAP)
    ret = etree.SubElement(
        root,
        _ga("return"),
        MsgCount=str(len(response.messages)),
        TAckCount=str(len(response.tacks)),
    )
    for message in response.messages:
        item = etree.SubElement(ret, _ga("MsgResponse"))
        output = etree.SubElement(item, _ga("CommonOutput"))
        for tag, value in (
            ("InputReference", message.common.input_reference),
            ("NIPReference", message.common.nip_reference),
            ("OutputReference", message.common.output_reference),
        ):
            if value:
                etree.SubElement(output, _ci(tag)).text = value
        add_blob(item, "Detail", message.detail)
        etree.SubElement(item, _ga("Xades-t")).text = _b64(message.xades)
    for tack in response.tacks:
        item = etree.SubElement(ret, _ga("TAckResponse"))
        _add_tack(item, "TAck", tack.tack)
        etree.SubElement(item, _ga("Xades-t")).text = _b64(tack.xades)
    return root


def build_confirm_response() -> etree._Element:
    return etree.Element(CONFIRM_RESPONSE, nsmap={"ga": GA})


def build_fault(fault: Fault) -> etree._Element:
    """The `ga:fault` detail element (types:FaultType) of a GenAsync SOAP fault."""
    root = etree.Element(FAULT, nsmap={"ga": GA, "t": TYPES})
    etree.SubElement(root, _t("FaultCode")).text = fault.code
    etree.SubElement(root, _t("FaultSource")).text = fault.source
    message = etree.SubElement(root, _t("Message"))
    message.set(f"{{{XML_NS}}}lang", fault.lang)
    message.text = fault.message
    details = etree.SubElement(root, _t("Details"))
    for detail in fault.details:
        item = etree.SubElement(details, _t("Detail"))
        etree.SubElement(item, _t("DetailCode")).text = detail.code
        etree.SubElement(item, _t("DetailSource")).text = detail.source
        if detail.location is not None:
            etree.SubElement(item, _t("Location")).text = detail.location
        if detail.message is not None:
            text = etree.SubElement(item, _t("Message"))
            text.set(f"{{{XML_NS}}}lang", fault.lang)
            text.text = detail.message
    return root


# -- answers: parse ---------------------------------------------------------------------------


def parse_post_response(element: etree._Element) -> TAck:
    _expect(element, POST_RESPONSE)
    return read_tack(_child(element, _ga("return"), "/postResponse/return"), "/postResponse/return")


def parse_get_response(element: etree._Element) -> GetResponse:
    _expect(element, GET_RESPONSE)
    ret = _child(element, _ga("return"), "/getResponse/return")
    messages: list[MsgResponse] = []
    for index, item in enumerate(ret.findall(_ga("MsgResponse")), start=1):
        where = f"/getResponse/return/MsgResponse[{index}]"
        output = _child(item, _ga("CommonOutput"), f"{where}/CommonOutput")
        messages.append(
            MsgResponse(
                common=CommonOutput(
                    input_reference=_text(output.find(_ci("InputReference"))),
                    nip_reference=_text(output.find(_ci("NIPReference"))),
                    output_reference=_text(output.find(_ci("OutputReference"))),
                ),
                detail=read_blob(
                    _child(item, _ga("Detail"), f"{where}/Detail"),
                    f"{where}/Detail",
                    max_size=MAX_ANSWER_BYTES,  # the insurer's answers outgrow any post
                ),
                xades=_unb64(_child(item, _ga("Xades-t"), f"{where}/Xades-t").text or "", where),
            )
        )
    tacks: list[TAckResponse] = []
    for index, item in enumerate(ret.findall(_ga("TAckResponse")), start=1):
        where = f"/getResponse/return/TAckResponse[{index}]"
        tacks.append(
            TAckResponse(
                tack=read_tack(_child(item, _ga("TAck"), f"{where}/TAck"), f"{where}/TAck"),
                xades=_unb64(_child(item, _ga("Xades-t"), f"{where}/Xades-t").text or "", where),
            )
        )
    return GetResponse(tuple(messages), tuple(tacks))


def parse_fault(element: etree._Element) -> Fault:
    _expect(element, FAULT)
    message = element.find(_t("Message"))
    details = tuple(
        FaultDetail(
            code=item.findtext(_t("DetailCode")) or "",
            source=item.findtext(_t("DetailSource")) or "",
            location=item.findtext(_t("Location")),
            message=item.findtext(_t("Message")),
        )
        for item in element.iterfind(f"{_t('Details')}/{_t('Detail')}")
    )
    return Fault(
        code=element.findtext(_t("FaultCode")) or "",
        source=element.findtext(_t("FaultSource")) or "",
        message=(message.text or "") if message is not None else "",
        details=details,
        lang=(message.get(f"{{{XML_NS}}}lang") or "en") if message is not None else "en",
    )


# -- shared pieces ----------------------------------------------------------------------------


def add_blob(parent: etree._Element, tag: str, blob: Blob) -> etree._Element:
    """A `types:Blob` child of `parent`; HashValue is the SHA-256 of the content (as stored,
    for a stored message given with its `encoded` text)."""
    element = etree.SubElement(parent, _ga(tag))
    element.set("ContentType", blob.content_type)
    element.set("ContentEncoding", blob.content_encoding)
    element.set("MessageName", blob.message_name)
    known = blob.hash_value if blob.encoded is not None else None
    element.set("HashValue", known or hash_value(blob.content))
    for name, value in (
        ("Id", blob.id),
        ("Reference", blob.reference),
        ("Issuer", blob.issuer),
        ("ContentEncryption", blob.content_encryption),
    ):
        if value is not None:
            element.set(name, value)
    try:
        element.text = (
            blob.encoded
            if blob.encoded is not None
            else encode_blob(blob.content, blob.content_encoding)
        )
    except BlobError as error:
        raise PayloadError(f"{tag}: {error}") from None
    return element


def read_blob(element: etree._Element, where: str, *, max_size: int = MAX_BLOB_BYTES) -> Blob:
    """Decode a `types:Blob` of at most `max_size` bytes inflated (a post's, by default); a
    HashValue, when sent, must be the SHA-256 of the content."""
    message_name = element.get("MessageName")
    if not message_name:
        raise PayloadError(f"{where}/@MessageName: required (e.g. HCPFAC)")
    content_type = element.get("ContentType")
    if not content_type:
        raise PayloadError(f"{where}/@ContentType: required (e.g. text/plain)")
    encoding = element.get("ContentEncoding", "deflate")  # the schema's default
    try:
        content = decode_blob(element.text or "", encoding, max_size=max_size)
    except BlobError as error:
        raise PayloadError(f"{where}: {error}") from None
    sent_hash = element.get("HashValue")
    if sent_hash is not None:
        digest = _unb64(sent_hash, f"{where}/@HashValue")
        if digest != hashlib.sha256(content).digest():
            raise PayloadError(f"{where}/@HashValue: is not the SHA-256 of the decoded content")
    return Blob(
        content=content,
        message_name=message_name,
        content_type=content_type,
        content_encoding=encoding,
        id=element.get("Id"),
        reference=element.get("Reference"),
        issuer=element.get("Issuer"),
        hash_value=sent_hash,
        content_encryption=element.get("ContentEncryption"),
    )


def read_tack(element: etree._Element, where: str) -> TAck:
    missing = [name for name in ("Issuer", "AppliesTo", "ResultMajor") if not element.get(name)]
    if missing:
        raise PayloadError(f"{where}: attribute(s) {', '.join(missing)} required")
    return TAck(
        content=_unb64(element.text or "", where),
        issuer=element.get("Issuer", ""),
        applies_to=element.get("AppliesTo", ""),
        result_major=element.get("ResultMajor", ""),
        result_minor=element.get("ResultMinor"),
        result_message=element.get("ResultMessage"),
        id=element.get("Id"),
        reference=element.get("Reference"),
    )


def _add_tack(parent: etree._Element, tag: str, tack: TAck) -> etree._Element:
    element = etree.SubElement(parent, _ga(tag))
    element.set("Issuer", tack.issuer)
    element.set("AppliesTo", tack.applies_to)
    element.set("ResultMajor", tack.result_major)
    for name, value in (
        ("ResultMinor", tack.result_minor),
        ("ResultMessage", tack.result_message),
        ("Id", tack.id),
        ("Reference", tack.reference),
    ):
        if value is not None:
            element.set(name, value)
    element.text = _b64(tack.content)
    return element


def _add_common_input(parent: etree._Element, common: CommonInput) -> None:
    element = etree.SubElement(parent, _ga("CommonInput"))
    request = etree.SubElement(element, _ci("Request"))
    etree.SubElement(request, _ci("IsTest")).text = "true" if common.is_test else "false"
    _add_origin(element, _ci("Origin"), common.origin)
    if common.input_reference:
        etree.SubElement(element, _ci("InputReference")).text = common.input_reference
    if common.nip_reference:
        etree.SubElement(element, _ci("NIPReference")).text = common.nip_reference


def _add_origin(parent: etree._Element, tag: str, origin: Origin) -> None:
    element = etree.SubElement(parent, tag)
    package = etree.SubElement(element, _ci("Package"))
    if origin.package_name:
        etree.SubElement(package, _ci("Name")).text = origin.package_name
    licence = etree.SubElement(package, _ci("License"))
    etree.SubElement(licence, _ci("Username")).text = origin.license_username
    etree.SubElement(licence, _ci("Password")).text = origin.license_password
    if origin.provider_nihii is None:
        return
    provider = etree.SubElement(element, _ci("CareProvider"))
    _add_nihii(provider, origin.provider_quality, origin.provider_nihii)
    if origin.person_name or origin.person_ssin:
        person = etree.SubElement(provider, _ci("PhysicalPerson"))
        if origin.person_name:
            etree.SubElement(person, _ci("Name")).text = origin.person_name
        _add_nihii(person, origin.provider_quality, origin.provider_nihii)
        if origin.person_ssin:
            etree.SubElement(person, _ci("Ssin")).text = origin.person_ssin


def _add_nihii(parent: etree._Element, quality: str | None, value: str) -> None:
    nihii = etree.SubElement(parent, _ci("Nihii"))
    etree.SubElement(nihii, _ci("Quality")).text = quality or "doctor"
    etree.SubElement(nihii, _ci("Value")).text = value


def _add_query(parent: etree._Element, tag: str, query: Query) -> etree._Element:
    element = etree.SubElement(parent, _ga(tag), Include="true" if query.include else "false")
    etree.SubElement(element, _ga("Max")).text = str(query.max)
    return element


def _read_common_input(element: etree._Element, where: str) -> CommonInput:
    is_test = _text(element.find(f"{_ci('Request')}/{_ci('IsTest')}"))
    if is_test not in ("true", "false", "1", "0"):
        raise PayloadError(f"{where}/Request/IsTest: must be true or false, got {is_test!r}")
    origin = _child(element, _ci("Origin"), f"{where}/Origin")
    return CommonInput(
        is_test=is_test in ("true", "1"),
        origin=_read_origin(origin, f"{where}/Origin"),
        input_reference=_text(element.find(_ci("InputReference"))),
        nip_reference=_text(element.find(_ci("NIPReference"))),
    )


def _read_origin(element: etree._Element, where: str) -> Origin:
    package = _child(element, _ci("Package"), f"{where}/Package")
    licence = _child(package, _ci("License"), f"{where}/Package/License")
    provider = element.find(_ci("CareProvider"))
    person = provider.find(_ci("PhysicalPerson")) if provider is not None else None
    return Origin(
        package_name=_text(package.find(_ci("Name"))),
        license_username=_text(licence.find(_ci("Username"))) or "",
        license_password=_text(licence.find(_ci("Password"))) or "",
        provider_quality=_text(
            element.find(f"{_ci('CareProvider')}/{_ci('Nihii')}/{_ci('Quality')}")
        ),
        provider_nihii=_text(element.find(f"{_ci('CareProvider')}/{_ci('Nihii')}/{_ci('Value')}")),
        person_name=_text(person.find(_ci("Name"))) if person is not None else None,
        person_ssin=_text(person.find(_ci("Ssin"))) if person is not None else None,
    )


def _read_query(element: etree._Element, where: str) -> Query:
    include = element.get("Include", "true").strip()
    if include not in ("true", "false", "1", "0"):
        raise PayloadError(f"{where}/@Include: must be true or false, got {include!r}")
    raw_max = _text(element.find(_ga("Max")))
    try:
        maximum = DEFAULT_MAX if raw_max is None else int(raw_max)
    except ValueError:
        raise PayloadError(f"{where}/Max: not an integer: {raw_max!r}") from None
    if maximum < 0:
        raise PayloadError(f"{where}/Max: must not be negative, got {maximum}")
    return Query(include=include in ("true", "1"), max=maximum)


def _expect(element: etree._Element, tag: str) -> None:
    if element.tag != tag:
        raise PayloadError(f"expected {tag}, found {element.tag}")


def _child(parent: etree._Element, tag: str, where: str) -> etree._Element:
    found = parent.find(tag)
    if found is None:
        raise PayloadError(f"{where}: the element is missing")
    return found


def _text(element: etree._Element | None) -> str | None:
    # Comment-proof (Origin NIHII): "1234<!---->5678" is "12345678", as the real stack reads it.
    return (text_value(element) or "").strip() or None


def _words(text: str | None) -> list[str]:
    return (text or "").split()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError(f"{where}: not base64") from None
