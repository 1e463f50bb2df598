"""A small client that talks to MyCareNet the way an eHealth connector does.

It loads a PKCS#12 keystore, gets a SAML 1.1 holder-of-key token from the STS (request signed
with the certificate, X.509 BinarySecurityToken), signs every service call with the token's
key (Body + Timestamp), and verifies every signed response against the trusted CA.
Tests use it; it is also the example a vendor can read next to their own code.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from simulator.client.dialects import CONNECTOR, STS_ACTION, Dialect
from simulator.client.wss_layout import WSSE, WSU, secure_saml, secure_x509
from simulator.codecs import etkdepot as etk_codec
from simulator.codecs import memberdata as memberdata_codec
from simulator.codecs import sts as sts_codec
from simulator.codecs import tarification as tarification_codec
from simulator.codecs.encrypted_content import (
    KnownContent,
    build_known_content,
    parse_known_content,
)
from simulator.codecs.mycarenet_commons import Blob, CommonInput
from simulator.domain.memberdata import INSURABILITY, SSIN_FORMAT, FacetRequest
from simulator.domain.sts import PROFESSION_WORDS
from simulator.security.etk import parse_etk
from simulator.security.pki import Identity, load_keystore, parse_subject
from simulator.security.sealing import seal, unseal
from simulator.security.wssecurity import (
    SecurityError,
    verify_request,
)
from simulator.soap.envelope import Envelope, read_envelope
from simulator.soap.faults import SoapFault
from simulator.soap.namespaces import SOA_ERRORS, SOAP11
from simulator.soap.parser import ParseLimits, parse_xml

STS_PATH = "/IAM/SecurityTokenService/v1"
ETK_PATH = "/EtkDepot/v1"
TARIFICATION_PATH = "/MyCareNet/Tarification/v1"
TARIFICATION_ACTION = "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult"
SEALED_FOR_INSURER = "encryptedForKnownBED"
MEMBERDATA_PATH = "/MyCareNet/MemberData/v1"
MEMBERDATA_ACTION = "urn:be:fgov:ehealth:mycarenet:memberdata:protocol:v1:MemberDataConsultation"
TOKEN_RENEWAL_MARGIN = timedelta(minutes=5)
INSURABILITY_INFORMATION = FacetRequest(
    INSURABILITY, (("requestType", "information"), ("contactType", "other"))
)


class ServiceFault(Exception):
    """The service answered with a SOAP fault."""

    def __init__(self, status: int, faultcode: str, code: str | None, message: str) -> None:
        super().__init__(f"HTTP {status} {faultcode} {code or ''}: {message}".strip())
        self.status = status
        self.faultcode = faultcode
        self.code = code
        self.message = message


# What this client reads of an answer: a GenAsync get may carry several of the insurer's
# answers, each up to MAX_ANSWER_BYTES inflated (~3 MB deflated, in base64), so answers are
# not held to the 20 MB the simulator accepts in a request.
ANSWER_LIMITS = ParseLimits(max_bytes=256 * 1024 * 1024)


@dataclass(frozen=True)
class Reply:
    status: int
    envelope: Envelope
    raw: bytes

    @property
    def payload(self) -> etree._Element:
        return self.envelope.payload


@dataclass
class _Token:
    assertion: etree._Element
    expires: datetime


class ConnectorClient:
    """Async client; use as `async with ConnectorClient(...) as client:`."""

    def __init__(
        self,
        base_url: str,
        keystore: Path,
        password: str,
        *,
        ca_cert: Path,
        now: Callable[[], datetime] | None = None,
        verify_responses: bool = True,
        dialect: Dialect = CONNECTOR,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.identity: Identity = load_keystore(keystore, password)
        self.subject = parse_subject(self.identity.cert)
        self.ca_cert = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        self._now = now or (lambda: datetime.now(UTC))
        self._verify_responses = verify_responses
        self.dialect = dialect  # how requests go on the wire: the connector's by default
        self._session: aiohttp.ClientSession | None = None
        self._token: _Token | None = None
        self._etks: dict[tuple[str, str, str | None], bytes] = {}

    async def __aenter__(self) -> ConnectorClient:
        # Trust exactly the simulator's CA, as a vendor would configure its truststore.
        context = ssl.create_default_context()
        context.load_verify_locations(cadata=self.ca_cert.public_bytes(Encoding.PEM).decode())
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    def business_now(self) -> datetime:
        """The business date and time this client works on (content dates, references)."""
        return self._now()

    # -- eHealth platform ----------------------------------------------------------------
    async def token(self) -> etree._Element:
        """A valid SAML assertion, asking the STS for a new one when needed."""
        now = wire_now()
        if self._token is not None and self._token.expires - TOKEN_RENEWAL_MARGIN > now:
            return self._token.assertion
        reply = await self._post(STS_PATH, STS_ACTION, self.token_request(now))
        assertion = sts_codec.read_assertion(reply.payload)
        self._token = _Token(assertion, _conditions_end(assertion))
        return assertion

    def token_request(self, now: datetime) -> etree._Element:
        """The STS request for a token, signed with the keystore's certificate."""
        if self.subject.ssin is None:
            raise ValueError("the keystore certificate carries no SSIN")
        word = PROFESSION_WORDS.get(self.subject.profession or "")
        rst = self.dialect.token_request(self.identity.cert, self.subject.ssin, word, now=now)
        envelope = self.dialect.envelope(rst, [])
        secure_x509(envelope, self.identity.key, self.identity.cert, self.dialect.header, now=now)
        return envelope

    async def insurer_etk(self) -> bytes:
        """MyCareNet's ETK, which requests are sealed for."""
        return await self._etk("CBE", "0820563481", "MYCARENET")

    async def own_etk(self) -> bytes:
        """This keystore holder's ETK, which answers are sealed for (Reply-to-Etk)."""
        if self.subject.ssin is None:
            raise ValueError("the keystore certificate carries no SSIN")
        return await self._etk("SSIN", self.subject.ssin, None)

    async def _etk(self, kind: str, value: str, application: str | None) -> bytes:
        key = (kind, value, application)
        if key not in self._etks:
            request = etk_codec.build_request(kind, value, application)
            # Unsecured and without SOAPAction, as the connector's KeyDepotService sends it.
            reply = await self._post(ETK_PATH, None, self.dialect.envelope(request, []))
            self._etks[key] = etk_codec.read_etk(reply.payload)
        return self._etks[key]

    async def _seal_for_insurer(self, business_content: bytes) -> bytes:
        """EncryptedKnownContent with our Reply-to-Etk, sealed for MyCareNet (wire-formats 1.7)."""
        insurer = parse_etk(await self.insurer_etk())
        known = KnownContent(
            business_content=business_content,
            reply_to_etk=await self.own_etk(),
            xades=None,
            content_id=f"_{uuid.uuid4()}",
        )
        return seal(build_known_content(known), sender=self.identity, recipients=[insurer])

    def _open_answer(self, detail: Blob) -> bytes:
        """The business content of an answer Detail, unsealed (and its sealer checked)."""
        if detail.content_encryption is None:
            return detail.content
        unsealed = unseal(detail.content, recipient=self.identity, trusted_ca=self.ca_cert)
        return parse_known_content(unsealed.content).business_content

    async def call(self, path: str, soap_action: str | None, payload: etree._Element) -> Reply:
        """Send `payload` to a MyCareNet service, signed with the SAML holder-of-key token.

        `soap_action` None sends no SOAPAction header at all, as the connector (SAAJ) does on
        MemberData and GenAsync (client-quirks #1)."""
        assertion = await self.token()
        envelope = self.dialect.envelope(payload, [])
        secure_saml(envelope, assertion, self.identity.key, self.dialect.header, now=wire_now())
        return await self._post(path, soap_action, envelope)

    # -- MyCareNet services --------------------------------------------------------------
    async def tarification(
        self,
        patient_ssin: str,
        codes: list[str],
        encounter_date: date,
        *,
        gmd_manager: str | None = None,
    ) -> tarification_codec.TarificationResult:
        if self.subject.nihii is None or self.subject.ssin is None:
            raise ValueError("eTar needs a keystore certificate with a NIHII and an SSIN")
        now = self._now()
        request = tarification_codec.build_request(
            provider_nihii=self.subject.nihii,
            provider_ssin=self.subject.ssin,
            provider_type=_hcparty_type(self.subject.profession),
            patient_ssin=patient_ssin,
            encounter_date=encounter_date,
            codes=codes,
            gmd_manager=gmd_manager,
            input_reference=now.strftime("%Y%m%d%H%M%S%f")[:17],
            issue_instant=now,
        )
        reply = await self.call(TARIFICATION_PATH, TARIFICATION_ACTION, request)
        return tarification_codec.parse_response(reply.payload)

    async def member_data(
        self,
        subject: str,
        start: date,
        end: date,
        *,
        facets: list[FacetRequest] | None = None,
        subject_format: str = SSIN_FORMAT,
        quality: str | None = None,
        sealed: bool = True,
        path: str | None = None,
    ) -> memberdata_codec.MemberDataResult:
        """MemberData consultation for `subject` (a NISS by default) over [start, end).

        Sealed end to end by default, as the connector does; `sealed=False` sends it in clear.
        `path` picks a regional copy of the service (IrisCareNet, WalCareNet).
        """
        if self.subject.nihii is None:
            raise ValueError("MemberData needs a keystore certificate with a NIHII")
        now = self._now()
        reference = now.strftime("%Y%m%d%H%M%S%f")[:17]
        query = memberdata_codec.build_attribute_query(
            requester_nihii=self.subject.nihii,
            subject=subject,
            subject_format=subject_format,
            facets=facets or [INSURABILITY_INFORMATION],
            start=datetime.combine(start, datetime.min.time()),
            end=datetime.combine(end, datetime.min.time()),
            query_id=f"_{reference}",
            now=now,
        )
        common = CommonInput(
            is_test=True,
            input_reference=reference,
            package_name="mycarenet-sim client",
            provider_quality=quality or _quality(self.subject.profession),
            provider_nihii=self.subject.nihii,
            provider_ssin=self.subject.ssin,
        )
        detail = await self._seal_for_insurer(query) if sealed else query
        request = memberdata_codec.build_request(
            common,
            detail,
            content_encryption=SEALED_FOR_INSURER if sealed else None,
            request_id=f"_{uuid.uuid4().hex}",
            now=now,
        )
        # No SOAPAction: the connector never sets one for MemberData (client-quirks #1).
        reply = await self.call(path or MEMBERDATA_PATH, None, request)
        answer = self._open_answer(memberdata_codec.parse_response_detail(reply.payload))
        return memberdata_codec.read_saml_response(answer)

    # -- transport -----------------------------------------------------------------------
    async def post_raw(
        self, path: str, body: bytes, soap_action: str | None = None
    ) -> tuple[int, bytes]:
        """Send bytes as they are, SOAPAction quoted when given (tests use it for malformed
        input)."""
        action = {} if soap_action is None else {"SOAPAction": f'"{soap_action}"'}
        return await self.transmit(path, body, action)

    async def send(
        self, path: str, soap_action: str | None, envelope: etree._Element
    ) -> tuple[int, bytes]:
        """Send an envelope as this client's dialect does: its serialisation, and its
        SOAPAction habit for the service (quoted, bare, or no header at all)."""
        return await self.send_bytes(path, soap_action, self.dialect.serialize(envelope))

    async def send_bytes(
        self, path: str, soap_action: str | None, body: bytes
    ) -> tuple[int, bytes]:
        """`send` for a body already serialised (signed requests built ahead of time)."""
        action = {} if soap_action is None else self.dialect.soap_action_header(path, soap_action)
        return await self.transmit(path, body, action)

    async def transmit(
        self, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        """One HTTP POST of a SOAP 1.1 message: every request of this client goes through
        here (the place to watch the wire); returns the status and the raw answer."""
        if self._session is None:
            raise RuntimeError("use the client inside `async with`")
        sent = {"Content-Type": "text/xml; charset=utf-8", **headers}
        async with self._session.post(self.base_url + path, data=body, headers=sent) as resp:
            return resp.status, await resp.read()

    def check_answer(self, status: int, raw: bytes) -> etree._Element:
        """The answer's root once it is no fault and its security header is what this
        dialect's stack reads: signed by the insurer, or (eHI's library-core) a lone
        Timestamp."""
        root = parse_xml(raw, ANSWER_LIMITS)
        fault = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
        if fault is not None:
            raise _service_fault(status, fault)
        if not self._verify_responses:
            return root
        if self.dialect.timestamp_only_answers:
            _check_timestamp_only(root)
            return root
        try:
            verify_request(
                root,
                ca_cert=self.ca_cert,
                sts_cert=None,
                now=wire_now(),
                require="x509",
                body_must_be_signed=True,
            )
        except SecurityError as error:
            raise SoapFault("SOA-00001", f"response signature rejected: {error.reason}") from None
        return root

    async def _post(
        self, path: str, soap_action: str | None, envelope: etree._Element
    ) -> Reply:
        status, raw = await self.send(path, soap_action, envelope)
        root = self.check_answer(status, raw)
        return Reply(status=status, envelope=read_envelope(root), raw=raw)


def _check_timestamp_only(root: etree._Element) -> None:
    """What eHI's `WSS.VerifyResponse` accepts: a wsse:Security whose children are all
    wsu:Timestamp (it throws NotSupportedException on anything else)."""
    security = root.find(f"{{{SOAP11}}}Header/{{{WSSE}}}Security")
    children = [] if security is None else [c for c in security if isinstance(c.tag, str)]
    if not children or any(c.tag != f"{{{WSU}}}Timestamp" for c in children):
        names = [etree.QName(c).localname for c in children]
        raise SoapFault("SOA-00001", f"answer security header {names} is not a lone Timestamp")


def wire_now() -> datetime:
    """Real time, what signatures, tokens and certificates are judged by. The client's `now`
    is the business date (content dates, references); a vendor's software signs with the real
    clock whatever date the simulator plays."""
    return datetime.now(UTC)


def _service_fault(status: int, fault: etree._Element) -> ServiceFault:
    code = fault.findtext(f"detail/{{{SOA_ERRORS}}}BusinessError/Code") or fault.findtext(
        f"detail/{{{SOA_ERRORS}}}SystemError/Code"
    )
    return ServiceFault(
        status, fault.findtext("faultcode") or "", code, fault.findtext("faultstring") or ""
    )


def _conditions_end(assertion: etree._Element) -> datetime:
    conditions = assertion.find(f"{{{sts_codec.SAML1}}}Conditions")
    raw = conditions.get("NotOnOrAfter") if conditions is not None else None
    if raw is None:
        raise sts_codec.RstError("the assertion has no Conditions/@NotOnOrAfter")
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def _quality(profession: str | None) -> str:
    return {"DENTIST": "dentist", "PHYSIOTHERAPIST": "physiotherapist", "NURSE": "nurse"}.get(
        profession or "", "doctor"
    )


def _hcparty_type(profession: str | None) -> str:
    return {"DENTIST": "persdentist"}.get(profession or "", "persphysician")
