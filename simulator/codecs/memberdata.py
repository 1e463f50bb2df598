"""MemberData v1 codec: MemberDataConsultationRequest/Response and the SAML 2.0 business payload.

Outer layer: MyCareNet commons v3 (wire-formats 2.1, 8.2). Inner layer, in `Detail`: a SAML 2.0
`samlp:AttributeQuery` in, a `samlp:Response` with one assertion per answered block out
(domain-rules 3.2, sample `samples/memberdata/mda-saml-response-decrypted.xml`). Sealing is the
service's business: this module reads and writes the plain business payloads.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from simulator.codecs.mycarenet_commons import (
    V3,
    Blob,
    CommonInput,
    PayloadError,
    add_blob,
    add_common_input,
    build_send_response,
    read_blob,
    read_common_input,
)
from simulator.domain.memberdata import (
    CONFIRMATION_METHOD,
    ISSUER_FORMAT,
    SUCCESS,
    AnswerBlock,
    FacetRequest,
    MemberDataAnswer,
    MemberDataQuery,
    StatusDetail,
)
from simulator.soap.parser import XmlRejected, parse_xml

NAMESPACE = "urn:be:fgov:ehealth:mycarenet:memberdata:protocol:v1"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
EXT = "urn:be:cin:nippin:memberdata:saml:extension"
# StatusDetail holds one `Fault` per problem, as insurers answer it: FaultCode, FaultSource,
# Message, Details/Detail{DetailCode, DetailSource, Location, Message}, the children in the
# CIN types namespace (types:FaultType). Shape from a real answer kept in FHC
# `ValidatorTest.kt` and read by FHC/IFHC `MemberDataServiceImpl.kt` (getElementsByTagName
# in urn:be:cin:types:v1); the Fault element itself sits in the support namespace both
# declare (types:v1 has no global Fault element).
SUPPORT = "urn:be:cin:nippin:memberData:support:v2"
TYPES = "urn:be:cin:types:v1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
XML_NS = "http://www.w3.org/XML/1998/namespace"
REQUEST_TAG = f"{{{NAMESPACE}}}MemberDataConsultationRequest"
RESPONSE_TAG = f"{{{NAMESPACE}}}MemberDataConsultationResponse"
ATTRIBUTE_QUERY_TAG = f"{{{SAMLP}}}AttributeQuery"
ATTRIBUTE_QUERY_LIST_TAG = f"{{{EXT}}}AttributeQueryList"
RESPONSE_LIST_TAG = f"{{{EXT}}}ResponseList"
MAX_LIST = 10_000  # maxOccurs of both lists in Extensions-simplified.xsd
SAML_NSMAP = {"samlp": SAMLP, "saml": SAML, "ext": EXT, "xsi": XSI, "xs": XS}


@dataclass(frozen=True)
class MemberDataRequest:
    request_id: str | None  # @Id of MemberDataConsultationRequest
    common: CommonInput
    detail: Blob


def parse_request(payload: etree._Element) -> MemberDataRequest:
    if payload.tag != REQUEST_TAG:
        raise PayloadError(
            f"/{etree.QName(payload).localname}: not a MemberDataConsultationRequest"
        )
    return MemberDataRequest(
        request_id=payload.get("Id"),
        common=read_common_input(payload, V3),
        detail=read_blob(payload.find(V3.p("Detail")), "/MemberDataConsultationRequest/Detail"),
    )


def read_attribute_query(data: bytes, common: CommonInput) -> MemberDataQuery:
    """The AttributeQuery in a decoded (and unsealed) Detail, as plain strings."""
    try:
        query = parse_xml(data)
    except XmlRejected as rejected:
        raise PayloadError(f"Detail: the AttributeQuery is not XML: {rejected.reason}") from None
    if query.tag != ATTRIBUTE_QUERY_TAG:
        raise PayloadError(
            f"Detail: expected samlp:AttributeQuery, found {etree.QName(query).localname}"
        )
    return _query_of(query, common)


def read_attribute_query_list(data: bytes, common: CommonInput) -> list[MemberDataQuery]:
    """The queries of an async MemberData post: `ext:AttributeQueryList`, 1 to 10000
    `samlp:AttributeQuery` (Extensions-simplified.xsd; wire-formats 2.2)."""
    try:
        root = parse_xml(data)
    except XmlRejected as rejected:
        raise PayloadError(
            f"Detail: the AttributeQueryList is not XML: {rejected.reason}"
        ) from None
    if root.tag != ATTRIBUTE_QUERY_LIST_TAG:
        raise PayloadError(
            f"Detail: expected ext:AttributeQueryList, found {etree.QName(root).localname}"
        )
    children = [child for child in root if isinstance(child.tag, str)]
    if not 1 <= len(children) <= MAX_LIST:
        raise PayloadError(
            f"Detail/AttributeQueryList: holds {len(children)} queries, 1 to {MAX_LIST} allowed"
        )
    for index, child in enumerate(children, start=1):
        if child.tag != ATTRIBUTE_QUERY_TAG:
            raise PayloadError(
                f"Detail/AttributeQueryList/*[{index}]: expected samlp:AttributeQuery, found "
                f"{etree.QName(child).localname}"
            )
    return [_query_of(child, common) for child in children]


def _query_of(query: etree._Element, common: CommonInput) -> MemberDataQuery:
    issuer = query.find(f"{{{SAML}}}Issuer")
    extensions = query.find(f"{{{SAMLP}}}Extensions")
    subject = query.find(f"{{{SAML}}}Subject")
    name_id = subject.find(f"{{{SAML}}}NameID") if subject is not None else None
    confirmation = subject.find(f"{{{SAML}}}SubjectConfirmation") if subject is not None else None
    data_element = (
        confirmation.find(f"{{{SAML}}}SubjectConfirmationData")
        if confirmation is not None
        else None
    )
    return MemberDataQuery(
        query_id=query.get("ID"),
        issuer=(issuer.text or "") if issuer is not None else None,
        issuer_format=issuer.get("Format") if issuer is not None else None,
        has_extensions=extensions is not None,
        extensions_typed=extensions is not None and _is_extensions_type(extensions),
        facets=tuple(_facet(f) for f in extensions.iter(f"{{{EXT}}}Facet"))
        if extensions is not None
        else (),
        has_attributes=query.find(f"{{{SAML}}}Attribute") is not None,
        name_id=(name_id.text or "") if name_id is not None else None,
        name_id_format=name_id.get("Format") if name_id is not None else None,
        has_confirmation=confirmation is not None,
        confirmation_method=confirmation.get("Method") if confirmation is not None else None,
        has_confirmation_data=data_element is not None,
        not_before=data_element.get("NotBefore") if data_element is not None else None,
        not_on_or_after=data_element.get("NotOnOrAfter") if data_element is not None else None,
        requester_nihii=common.provider_nihii,
        requester_quality=common.provider_quality,
    )


def _is_extensions_type(extensions: etree._Element) -> bool:
    declared = extensions.get(f"{{{XSI}}}type")
    if declared is None or ":" not in declared:
        return False
    prefix, local = declared.split(":", 1)
    return local == "ExtensionsType" and extensions.nsmap.get(prefix) == EXT


def _facet(element: etree._Element) -> FacetRequest:
    # Dimension is unqualified: the extension schema has no elementFormDefault.
    dimensions = tuple(
        (d.get("id", ""), (d.text or ""))
        for d in element
        if d.tag in ("Dimension", f"{{{EXT}}}Dimension")
    )
    return FacetRequest(element.get("id", ""), dimensions)


# -- the answer ------------------------------------------------------------------------------


def build_saml_response(
    answer: MemberDataAnswer, query: MemberDataQuery, *, now: datetime
) -> bytes:
    """samlp:Response for the query: the status, then one assertion per block."""
    response = saml_response_element(answer, query, now=now)
    return etree.tostring(response, xml_declaration=True, encoding="UTF-8")


def build_response_list(responses: list[etree._Element]) -> bytes:
    """`ext:ResponseList`: one samlp:Response per query of an async post, in its order."""
    root = etree.Element(RESPONSE_LIST_TAG, nsmap=SAML_NSMAP)
    root.extend(responses)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def saml_response_element(
    answer: MemberDataAnswer, query: MemberDataQuery, *, now: datetime
) -> etree._Element:
    issuer_text = f"urn:be:cin:io:{answer.insurer}" if answer.insurer else "urn:be:cin:mycarenet"
    response = etree.Element(
        f"{{{SAMLP}}}Response",
        nsmap=SAML_NSMAP,
        ID=f"_{uuid.uuid4()}",
        IssueInstant=_instant(now),
        Version="2.0",
    )
    if query.query_id:
        response.set("InResponseTo", query.query_id)
    etree.SubElement(response, f"{{{SAML}}}Issuer").text = issuer_text
    _add_status(response, answer)
    for block in answer.blocks:
        _add_assertion(response, block, query, issuer_text, now)
    return response


def _add_status(response: etree._Element, answer: MemberDataAnswer) -> None:
    status = etree.SubElement(response, f"{{{SAMLP}}}Status")
    code = etree.SubElement(status, f"{{{SAMLP}}}StatusCode", Value=answer.status)
    if not answer.details:
        return
    first = answer.details[0]
    if first.sub_status:
        etree.SubElement(code, f"{{{SAMLP}}}StatusCode", Value=first.sub_status)
    etree.SubElement(status, f"{{{SAMLP}}}StatusMessage").text = first.message_en or first.code
    detail = etree.SubElement(status, f"{{{SAMLP}}}StatusDetail")
    for item in answer.details:
        _add_detail(detail, item, answer.insurer)


def _add_detail(parent: etree._Element, item: StatusDetail, insurer: str | None) -> None:
    fault = etree.SubElement(parent, f"{{{SUPPORT}}}Fault", nsmap={"sup": SUPPORT, "t": TYPES})
    source = item.fault_source.replace("XXX", insurer or "XXX")
    location = fault_location(item.path)
    etree.SubElement(fault, f"{{{TYPES}}}FaultCode").text = item.fault_code
    etree.SubElement(fault, f"{{{TYPES}}}FaultSource").text = source
    _add_message(fault, item.message_en or item.code)
    detail = etree.SubElement(etree.SubElement(fault, f"{{{TYPES}}}Details"), f"{{{TYPES}}}Detail")
    etree.SubElement(detail, f"{{{TYPES}}}DetailCode").text = item.code
    etree.SubElement(detail, f"{{{TYPES}}}DetailSource").text = _detail_source(location, source)
    if location:
        etree.SubElement(detail, f"{{{TYPES}}}Location").text = location
    _add_message(detail, item.message_en or item.code)


def _add_message(parent: etree._Element, text: str) -> None:
    message = etree.SubElement(parent, f"{{{TYPES}}}Message")
    message.set(f"{{{XML_NS}}}lang", "en")
    message.text = text


_FACET_STEP = re.compile(r"^(\w+)\[([^\]@=']+)\]$")


def fault_location(path: str | None) -> str | None:
    """The catalogue's path as insurers write Location: an XPath over the AttributeQuery
    with `*:` steps and `[@id='...']` predicates, e.g.
    `/*:AttributeQuery/*:Extensions/*:Facet[@id='urn:be:cin:nippin:insurability']`
    (the real answer in FHC `ValidatorTest.kt`; FHC evaluates it against its query)."""
    if not path:
        return None
    steps = []
    for step in path.strip("/").split("/"):
        facet = _FACET_STEP.match(step)
        if facet is not None:
            steps.append(f"*:{facet.group(1)}[@id='{facet.group(2)}']")
        elif step.startswith("@") or step in ("*", "text()") or ":" in step:
            steps.append(step)
        else:
            steps.append(f"*:{step}")
    return "/" + "/".join(steps)


def _detail_source(location: str | None, fault_source: str) -> str:
    # Insurers name the facet that failed ("Insurability" in the real answer); problems of
    # the query itself are MyCareNet's.
    facet = re.search(r"urn:be:cin:nippin:(\w+)", location or "")
    if facet is None:
        return fault_source
    name = facet.group(1)
    return name[0].upper() + name[1:]


def _add_assertion(
    response: etree._Element,
    block: AnswerBlock,
    query: MemberDataQuery,
    issuer: str,
    now: datetime,
) -> None:
    assertion = etree.SubElement(
        response,
        f"{{{SAML}}}Assertion",
        ID=f"_{uuid.uuid4()}",
        IssueInstant=_instant(now),
        Version="2.0",
    )
    etree.SubElement(assertion, f"{{{SAML}}}Issuer").text = issuer
    _add_subject(assertion, query)
    advice = etree.SubElement(assertion, f"{{{SAML}}}Advice")
    advice.set(f"{{{XSI}}}type", "ext:AdviceType")
    etree.SubElement(advice, f"{{{EXT}}}AssertionType").text = block.assertion_type
    facet = etree.SubElement(advice, f"{{{EXT}}}Facet", id=block.facet.id)
    for name, text in block.facet.dimensions:
        etree.SubElement(facet, "Dimension", id=name).text = text
    statement = etree.SubElement(assertion, f"{{{SAML}}}AttributeStatement")
    for attribute in block.attributes:
        element = etree.SubElement(statement, f"{{{SAML}}}Attribute", Name=attribute.name)
        value = etree.SubElement(element, f"{{{SAML}}}AttributeValue")
        value.set(f"{{{XSI}}}type", f"xs:{attribute.xsd_type}")
        value.text = attribute.value


def _add_subject(assertion: etree._Element, query: MemberDataQuery) -> None:
    subject = etree.SubElement(assertion, f"{{{SAML}}}Subject")
    name_id = etree.SubElement(subject, f"{{{SAML}}}NameID")
    name_id.text = query.name_id or ""
    if query.name_id_format:
        name_id.set("Format", query.name_id_format)
    confirmation = etree.SubElement(
        subject, f"{{{SAML}}}SubjectConfirmation", Method=CONFIRMATION_METHOD
    )
    data = etree.SubElement(confirmation, f"{{{SAML}}}SubjectConfirmationData")
    if query.not_before:
        data.set("NotBefore", query.not_before)
    if query.not_on_or_after:
        data.set("NotOnOrAfter", query.not_on_or_after)


def build_response(
    request: MemberDataRequest,
    detail: bytes,
    *,
    content_encryption: str | None,
    response_id: str,
    now: datetime,
) -> etree._Element:
    response, _ = build_send_response(
        RESPONSE_TAG,
        {"md": NAMESPACE, "p": V3.protocol, "c": V3.core},
        V3,
        in_response_to=request.request_id,
        input_reference=request.common.input_reference,
        detail=detail,
        content_encryption=content_encryption,
        response_id=response_id,
        issue_instant=_instant(now),
    )
    return response


# -- client side -----------------------------------------------------------------------------


def build_attribute_query(
    *,
    requester_nihii: str,
    subject: str,
    subject_format: str,
    facets: list[FacetRequest],
    start: datetime,
    end: datetime,
    query_id: str,
    now: datetime,
) -> bytes:
    query = etree.Element(
        ATTRIBUTE_QUERY_TAG,
        nsmap=SAML_NSMAP,
        ID=query_id,
        Version="2.0",
        IssueInstant=_instant(now),
    )
    etree.SubElement(query, f"{{{SAML}}}Issuer", Format=ISSUER_FORMAT).text = requester_nihii
    extensions = etree.SubElement(query, f"{{{SAMLP}}}Extensions")
    extensions.set(f"{{{XSI}}}type", "ext:ExtensionsType")
    for facet in facets:
        element = etree.SubElement(extensions, f"{{{EXT}}}Facet", id=facet.id)
        for name, value in facet.dimensions:
            etree.SubElement(element, "Dimension", id=name).text = value
    subject_element = etree.SubElement(query, f"{{{SAML}}}Subject")
    etree.SubElement(subject_element, f"{{{SAML}}}NameID", Format=subject_format).text = subject
    confirmation = etree.SubElement(
        subject_element, f"{{{SAML}}}SubjectConfirmation", Method=CONFIRMATION_METHOD
    )
    etree.SubElement(
        confirmation,
        f"{{{SAML}}}SubjectConfirmationData",
        NotBefore=_instant(start),
        NotOnOrAfter=_instant(end),
    )
    return etree.tostring(query, xml_declaration=True, encoding="UTF-8")


def build_attribute_query_list(queries: list[bytes]) -> bytes:
    """`ext:AttributeQueryList` of serialised AttributeQueries (the async MemberData post)."""
    root = etree.Element(ATTRIBUTE_QUERY_LIST_TAG, nsmap={"ext": EXT})
    root.extend(parse_xml(query) for query in queries)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def build_request(
    common: CommonInput,
    detail: bytes,
    *,
    content_encryption: str | None,
    request_id: str,
    now: datetime,
) -> etree._Element:
    request = etree.Element(
        REQUEST_TAG,
        nsmap={"md": NAMESPACE, "p": V3.protocol, "c": V3.core},
        Id=request_id,
        IssueInstant=_instant(now),
    )
    # The simulator does not check the MyCareNet package licence.
    add_common_input(request, V3, common, license_user="mycarenet-sim", license_password="-")  # noqa: S106
    add_blob(
        request,
        V3.p("Detail"),
        detail,
        blob_id=f"_{uuid.uuid4()}",
        content_encryption=content_encryption,
    )
    return request


@dataclass(frozen=True)
class MemberDataResult:
    status: str
    sub_status: str | None
    detail_codes: tuple[str, ...]
    message: str | None
    blocks: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]  # (type, facet, attributes)
    issuer: str | None
    in_response_to: str | None = None  # the AttributeQuery's ID

    @property
    def accepted(self) -> bool:
        return self.status == SUCCESS

    def attributes(self, assertion_type: str) -> list[dict[str, str]]:
        """The attributes of every block of this type, as name -> value."""
        return [dict(attrs) for kind, _, attrs in self.blocks if kind == assertion_type]


def parse_response_detail(payload: etree._Element) -> Blob:
    if payload.tag != RESPONSE_TAG:
        raise PayloadError(
            f"/{etree.QName(payload).localname}: not a MemberDataConsultationResponse"
        )
    detail = payload.find(f"{V3.p('Return')}/{V3.p('Detail')}")
    return read_blob(detail, "/MemberDataConsultationResponse/Return/Detail")


def read_response_list(data: bytes) -> list[MemberDataResult]:
    """The answers of an async MemberData message (`ext:ResponseList`), in query order."""
    try:
        root = parse_xml(data)
    except XmlRejected as rejected:
        raise PayloadError(f"Detail: the ResponseList is not XML: {rejected.reason}") from None
    if root.tag != RESPONSE_LIST_TAG:
        raise PayloadError(f"Detail: expected ext:ResponseList, found {root.tag}")
    return [_result_of(response) for response in root.iterfind(f"{{{SAMLP}}}Response")]


def read_saml_response(data: bytes) -> MemberDataResult:
    try:
        response = parse_xml(data)
    except XmlRejected as rejected:
        raise PayloadError(f"Detail: the samlp:Response is not XML: {rejected.reason}") from None
    return _result_of(response)


def _result_of(response: etree._Element) -> MemberDataResult:
    code = response.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
    sub = code.find(f"{{{SAMLP}}}StatusCode") if code is not None else None
    blocks = []
    for assertion in response.iterfind(f"{{{SAML}}}Assertion"):
        kind = assertion.findtext(f"{{{SAML}}}Advice/{{{EXT}}}AssertionType") or ""
        facet = assertion.find(f"{{{SAML}}}Advice/{{{EXT}}}Facet")
        attributes = tuple(
            (a.get("Name", ""), a.findtext(f"{{{SAML}}}AttributeValue") or "")
            for a in assertion.iterfind(f"{{{SAML}}}AttributeStatement/{{{SAML}}}Attribute")
        )
        blocks.append((kind, facet.get("id", "") if facet is not None else "", attributes))
    return MemberDataResult(
        status=code.get("Value", "") if code is not None else "",
        sub_status=sub.get("Value") if sub is not None else None,
        detail_codes=tuple(d.text or "" for d in response.iter(f"{{{TYPES}}}DetailCode")),
        message=response.findtext(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusMessage"),
        blocks=tuple(blocks),
        issuer=response.findtext(f"{{{SAML}}}Issuer"),
        in_response_to=response.get("InResponseTo"),
    )


def _instant(moment: datetime) -> str:
    return moment.replace(microsecond=0, tzinfo=None).isoformat()
