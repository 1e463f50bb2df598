"""A small client that talks to MyCareNet the way an eHealth connector does.

It loads a PKCS#12 keystore, gets a SAML 1.1 holder-of-key token from the STS (request signed
with the certificate, X.509 BinarySecurityToken), signs every service call with the token's
key (Body + Timestamp), and verifies every signed response against the trusted CA.
Tests use it; it is also the example a vendor can read next to their own code.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

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
from simulator.domain.sts import designators_for
from simulator.security.etk import parse_etk
from simulator.security.pki import Identity, load_keystore, parse_subject
from simulator.security.sealing import seal, unseal
from simulator.security.wssecurity import (
    SecurityError,
    sign_envelope_saml,
    sign_envelope_x509,
    verify_request,
)
from simulator.soap.envelope import Envelope, new_envelope, read_envelope, serialize
from simulator.soap.faults import SoapFault
from simulator.soap.namespaces import SOA_ERRORS, SOAP11
from simulator.soap.parser import parse_xml

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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.identity: Identity = load_keystore(keystore, password)
        self.subject = parse_subject(self.identity.cert)
        self.ca_cert = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        self._now = now or (lambda: datetime.now(UTC))
        self._verify_responses = verify_responses
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

    # -- eHealth platform ----------------------------------------------------------------
    async def token(self) -> etree._Element:
        """A valid SAML assertion, asking the STS for a new one when needed."""
        now = self._now()
        if self._token is not None and self._token.expires - TOKEN_RENEWAL_MARGIN > now:
            return self._token.assertion
        reply = await self._post(STS_PATH, "", self.token_request(now))
        assertion = sts_codec.read_assertion(reply.payload)
        self._token = _Token(assertion, _conditions_end(assertion))
        return assertion

    def token_request(self, now: datetime) -> etree._Element:
        """The STS request for a token, signed with the keystore's certificate."""
        if self.subject.ssin is None:
            raise ValueError("the keystore certificate carries no SSIN")
        rst = sts_codec.build_request(
            self.identity.cert,
            self.subject.ssin,
            designators_for(self.subject.profession),
            context=f"RC-{uuid.uuid4()}",
            created=now,
            expires=now + timedelta(hours=24),
        )
        envelope = new_envelope(rst)
        sign_envelope_x509(envelope, self.identity.key, self.identity.cert, now=now)
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
            reply = await self._post(ETK_PATH, "", new_envelope(request))
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

    async def call(self, path: str, soap_action: str, payload: etree._Element) -> Reply:
        """Send `payload` to a MyCareNet service, signed with the SAML holder-of-key token."""
        assertion = await self.token()
        envelope = new_envelope(payload)
        sign_envelope_saml(envelope, assertion, self.identity.key, now=self._now())
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
    ) -> memberdata_codec.MemberDataResult:
        """MemberData consultation for `subject` (a NISS by default) over [start, end).

        Sealed end to end by default, as the connector does; `sealed=False` sends it in clear.
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
        reply = await self.call(MEMBERDATA_PATH, MEMBERDATA_ACTION, request)
        answer = self._open_answer(memberdata_codec.parse_response_detail(reply.payload))
        return memberdata_codec.read_saml_response(answer)

    # -- transport -----------------------------------------------------------------------
    async def post_raw(
        self, path: str, body: bytes, soap_action: str | None = None
    ) -> tuple[int, bytes]:
        """Send bytes as they are (tests use it for malformed input)."""
        if self._session is None:
            raise RuntimeError("use the client inside `async with`")
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        if soap_action is not None:
            headers["SOAPAction"] = f'"{soap_action}"'
        async with self._session.post(self.base_url + path, data=body, headers=headers) as resp:
            return resp.status, await resp.read()

    async def _post(self, path: str, soap_action: str, envelope: etree._Element) -> Reply:
        status, raw = await self.post_raw(path, serialize(envelope), soap_action)
        root = parse_xml(raw)
        fault = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
        if fault is not None:
            raise _service_fault(status, fault)
        if self._verify_responses:
            try:
                verify_request(
                    root,
                    ca_cert=self.ca_cert,
                    sts_cert=None,
                    now=self._now(),
                    require="x509",
                    body_must_be_signed=True,
                )
            except SecurityError as error:
                raise SoapFault(
                    "SOA-00001", f"response signature rejected: {error.reason}"
                ) from None
        return Reply(status=status, envelope=read_envelope(root), raw=raw)


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
