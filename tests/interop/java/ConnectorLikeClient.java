/*
 * A client written the way the eHealth Java connector talks to MyCareNet: SAAJ builds and sends
 * the SOAP 1.1 messages (SOAPConnection over HTTP), WSS4J 1.6 + Santuario sign them and verify
 * every answer. Business payloads (the sealed MemberData and eAttest blobs, the eFact 920000, the
 * GenAsync post with its XAdES) are prepared beforehand by the Python test and read from files:
 * what this program proves is the SOAP / WS-Security / MTOM / HTTP layer.
 *
 * Usage: java ConnectorLikeClient run.properties     (keys: see the Config class below)
 * Output: one line per step, "STEP <name> OK <what>" or "STEP <name> FAIL <why>"; the exit status
 * is the number of failed steps.
 *
 * Written from the behaviour documented in docs/client-quirks.md (CONN rows) and wire-formats.md
 * 1.9/1.10: the STS request template with the "wstrust" KeyType and an unqualified Context, the
 * quoted SOAPAction, an X.509 BinarySecurityToken signature (Timestamp, Body, BST) for the STS, a
 * SAML holder-of-key signature (Timestamp + Assertion in the header, STR KeyIdentifier
 * SAMLAssertionID) for the services, no SOAPAction for MemberData and GenAsync, WS-Addressing
 * with mustUnderstand and a Timestamp-only signature plus XOP packaging for GenAsync.
 */

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.zip.Inflater;

import javax.activation.DataHandler;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.xml.crypto.dsig.Reference;
import javax.xml.namespace.QName;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.soap.AttachmentPart;
import javax.xml.soap.MessageFactory;
import javax.xml.soap.SOAPBody;
import javax.xml.soap.SOAPConnection;
import javax.xml.soap.SOAPConnectionFactory;
import javax.xml.soap.SOAPElement;
import javax.xml.soap.SOAPFault;
import javax.xml.soap.SOAPHeader;
import javax.xml.soap.SOAPMessage;
import javax.xml.soap.SOAPPart;

import com.sun.xml.messaging.saaj.soap.SOAPPartImpl;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSDataRef;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.WSSecurityEngine;
import org.apache.ws.security.WSSecurityEngineResult;
import org.apache.ws.security.components.crypto.Crypto;
import org.apache.ws.security.components.crypto.CryptoType;
import org.apache.ws.security.components.crypto.Merlin;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.apache.ws.security.message.token.SecurityTokenReference;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

public final class ConnectorLikeClient {
    // -- namespaces and constants ---------------------------------------------------------------
    static final String SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String WST = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
    static final String AUTH = "http://docs.oasis-open.org/wsfed/authorization/200706";
    static final String WSU =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    static final String WSSE =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    static final String DS = "http://www.w3.org/2000/09/xmldsig#";
    static final String SAML1 = "urn:oasis:names:tc:SAML:1.0:assertion";
    static final String WSA = "http://www.w3.org/2005/08/addressing";
    static final String XOP = "http://www.w3.org/2004/08/xop/include";
    static final String GA = "urn:be:cin:nip:async:generic";
    static final String SOA_ERRORS = "urn:be:fgov:ehealth:errors:soa:v1";
    static final String CIN_TYPES = "urn:be:cin:types:v1";
    static final String SAML_ASSERTION_ID_VALUE_TYPE =
        "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID";
    static final String SAML11_TOKEN_TYPE =
        "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1";
    static final String RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    static final String SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256";
    static final String ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous";
    static final String HOLDER_SSIN = "urn:be:fgov:ehealth:1.0:certificateholder:person:ssin";
    static final String PERSON_SSIN = "urn:be:fgov:person:ssin";

    static final String STS_PATH = "/IAM/SecurityTokenService/v1";
    static final String STS_ACTION = "urn:be:fgov:ehealth:sts:protocol:v1:RequestSecurityToken";
    static final String ETAR_PATH = "/MyCareNet/Tarification/v1";
    static final String ETAR_ACTION =
        "urn:be:fgov:ehealth:mycarenet:tarification:protocol:v1:TarificationConsult";
    static final String MEMBERDATA_PATH = "/MyCareNet/MemberData/v1";
    static final String EATTEST_PATH = "/MyCareNet/eAttest/v3";
    static final String EATTEST_SEND_ACTION =
        "urn:be:fgov:ehealth:mycarenet:attest:protocol:v3:SendAttestation";
    static final String GA_POST = "urn:be:cin:nip:async:generic:post:msg";
    static final String GA_GET = "urn:be:cin:nip:async:generic:get:query";
    static final String GA_CONFIRM = "urn:be:cin:nip:async:generic:confirm:hash";
    static final int GENASYNC_DEFAULT_THRESHOLD = 81920; // bytes, the connector's default
    static final int TIMESTAMP_TTL_SECONDS = 60;

    /*
     * The RequestSecurityToken skeleton for a SAML 1.1 holder-of-key token, as the connector's
     * resource wstrust/issue.samlv11.hok.template.xml lays it out (written out here by hand):
     * the spare wsa (2004/08) and wsp declarations and the "wstrust" spelling of KeyType included.
     */
    static final String RST_TEMPLATE = String.join("",
        "<wst:RequestSecurityToken xmlns:wst=\"", WST, "\" xmlns:auth=\"", AUTH, "\"",
        " xmlns:wsp=\"http://schemas.xmlsoap.org/ws/2004/09/policy\"",
        " xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\"",
        " xmlns:wsu=\"", WSU, "\" xmlns:wsse=\"", WSSE, "\" xmlns:ds=\"", DS, "\">",
        "<wst:TokenType>", SAML11_TOKEN_TYPE, "</wst:TokenType>",
        "<wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType>",
        "<wst:Claims Dialect=\"http://docs.oasis-open.org/wsfed/authorization/200706/authclaims\">",
        "</wst:Claims>",
        "<wst:Lifetime><wsu:Created></wsu:Created><wsu:Expires></wsu:Expires></wst:Lifetime>",
        "<wst:KeyType>http://docs.oasis-open.org/ws-sx/wstrust/200512/PublicKey</wst:KeyType>",
        "<wst:UseKey><wsse:SecurityTokenReference><ds:X509Data><ds:X509Certificate>",
        "</ds:X509Certificate></ds:X509Data></wsse:SecurityTokenReference></wst:UseKey>",
        "</wst:RequestSecurityToken>");

    // -- configuration --------------------------------------------------------------------------
    static final class Config {
        final Properties p = new Properties();

        Config(Path file) throws Exception {
            try (InputStream in = Files.newInputStream(file)) {
                p.load(in);
            }
        }

        String get(String key) {
            String value = p.getProperty(key);
            if (value == null) {
                throw new IllegalArgumentException("missing property " + key);
            }
            return value;
        }

        String opt(String key, String fallback) {
            return p.getProperty(key, fallback);
        }
    }

    /** One step's outcome: printed as a line, counted in the exit status. */
    static final class StepFailure extends Exception {
        StepFailure(String message) {
            super(message);
        }
    }

    final Config config;
    final String endpoint;
    final KeyStore keystore;
    final String alias;
    final String password;
    final X509Certificate certificate;
    final X509Certificate ca;
    final Crypto signingCrypto;
    final Crypto trustCrypto;
    final Path out;
    final MessageFactory messageFactory;
    final SOAPConnectionFactory connectionFactory;
    Element assertion; // the SAML token, once the STS gave it
    int failures;

    ConnectorLikeClient(Config config) throws Exception {
        this.config = config;
        endpoint = config.get("endpoint").replaceAll("/+$", "");
        password = config.get("keystore.password");
        keystore = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(config.get("keystore"))) {
            keystore.load(in, password.toCharArray());
        }
        String found = null;
        for (Enumeration<String> e = keystore.aliases(); e.hasMoreElements();) {
            String candidate = e.nextElement();
            if (keystore.isKeyEntry(candidate)) {
                found = candidate;
                break;
            }
        }
        if (found == null) {
            throw new IllegalStateException("the keystore holds no private key");
        }
        alias = found;
        certificate = (X509Certificate) keystore.getCertificate(alias);
        try (InputStream in = new FileInputStream(config.get("ca"))) {
            ca = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        // Read the key now: WSSConfig.init() registers BouncyCastle second, ahead of SunJCE, and
        // BC's PBES2 then fails to open this PKCS#12 key bag (AES-256, PBKDF2-SHA256) with
        // "Given final block not properly padded". WSS4J gets a Crypto holding the key pair,
        // as the connector's WSSecurityCrypto does.
        signingCrypto = new KeyPairCrypto(
            (PrivateKey) keystore.getKey(alias, password.toCharArray()), certificate);
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("mycarenet-sim-ca", ca);
        Merlin trusting = new Merlin();
        trusting.setTrustStore(trust);
        trustCrypto = trusting;
        out = Paths.get(config.get("out"));
        Files.createDirectories(out);
        messageFactory = MessageFactory.newInstance(); // SOAP 1.1, as the connector
        connectionFactory = SOAPConnectionFactory.newInstance();
        WSSConfig.init();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: java ConnectorLikeClient run.properties");
            System.exit(2);
        }
        ConnectorLikeClient client = new ConnectorLikeClient(new Config(Paths.get(args[0])));
        client.runAll();
        System.exit(client.failures);
    }

    interface Step {
        String run() throws Exception;
    }

    void step(String name, Step body) {
        String line;
        try {
            line = "STEP " + name + " OK " + body.run();
        } catch (StepFailure failure) {
            failures++;
            line = "STEP " + name + " FAIL " + failure.getMessage();
        } catch (Exception error) {
            failures++;
            error.printStackTrace(); // stderr: the test shows its tail on failure
            Throwable root = error;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            line = "STEP " + name + " FAIL " + error.getClass().getSimpleName() + ": "
                + oneLine(String.valueOf(error.getMessage()))
                + (root != error ? " (cause " + root.getClass().getSimpleName() + ": "
                    + oneLine(String.valueOf(root.getMessage())) + ")" : "");
        }
        System.out.println(line);
        System.out.flush();
    }

    void runAll() {
        step("sts", this::sts);
        step("etar", () -> service("etar", ETAR_PATH, ETAR_ACTION, "etar.payload"));
        step("memberdata", () -> service("memberdata", MEMBERDATA_PATH, null, "memberdata.payload"));
        step("eattest-send",
            () -> service("eattest-send", EATTEST_PATH, EATTEST_SEND_ACTION, "eattest.payload"));
        step("genasync-post", this::genAsyncPost);
        final Document[] got = new Document[1];
        step("genasync-get", () -> genAsyncGet(got, Integer.parseInt(
            config.opt("genasync.expected.messages", "1")), "genasync-get"));
        step("genasync-confirm", () -> genAsyncConfirm(got[0]));
        step("genasync-get-after-confirm", () -> genAsyncGetEmpty());
    }

    // -- STS ------------------------------------------------------------------------------------
    String sts() throws Exception {
        Document rst = newDocumentBuilder().parse(
            new ByteArrayInputStream(RST_TEMPLATE.getBytes(StandardCharsets.UTF_8)));
        Element request = rst.getDocumentElement();
        // The connector sets Context with setAttributeNS(WST, "Context", uuid): no prefix.
        request.setAttributeNS(WST, "Context", UUID.randomUUID().toString());
        Element claims = (Element) request.getElementsByTagNameNS(WST, "Claims").item(0);
        String ssin = config.get("sts.ssin");
        Set<String> asked = new LinkedHashSet<>();
        for (String uri : new String[] {HOLDER_SSIN, PERSON_SSIN}) {
            Element claim = rst.createElementNS(AUTH, "auth:ClaimType");
            claim.setAttribute("Uri", uri);
            Element value = rst.createElementNS(AUTH, "auth:Value");
            value.setTextContent(ssin);
            claim.appendChild(value);
            claims.appendChild(claim);
            asked.add(uri);
        }
        for (String uri : config.opt("sts.designators", "").trim().split("\\s+")) {
            if (!uri.isEmpty() && asked.add(uri)) {
                Element claim = rst.createElementNS(AUTH, "auth:ClaimType");
                claim.setAttribute("Uri", uri);
                claims.appendChild(claim);
            }
        }
        DateTimeFormatter format = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
        OffsetDateTime now = OffsetDateTime.now(ZoneId.of("Europe/Brussels"));
        request.getElementsByTagNameNS(WSU, "Created").item(0).setTextContent(now.format(format));
        request.getElementsByTagNameNS(WSU, "Expires").item(0)
            .setTextContent(now.plusHours(24).format(format));
        request.getElementsByTagNameNS(DS, "X509Certificate").item(0)
            .setTextContent(Base64.getEncoder().encodeToString(certificate.getEncoded()));

        SOAPMessage message = newMessage(rst, false);
        setSoapAction(message, STS_ACTION);
        signWithCertificate(message);
        SOAPMessage reply = send("sts", message, STS_PATH);
        String verdict = verifyAnswer(reply, true);
        NodeList tokens = reply.getSOAPPart().getElementsByTagNameNS(SAML1, "Assertion");
        if (tokens.getLength() == 0) {
            throw new StepFailure("the STS answer holds no saml:Assertion");
        }
        assertion = (Element) tokens.item(0);
        return "SOAPAction=" + quoted(STS_ACTION) + " KeyType=.../ws-sx/wstrust/200512/PublicKey"
            + " Context unqualified; request signed with an X.509 BST (Timestamp, Body, BST,"
            + " rsa-sha256); AssertionID=" + assertion.getAttribute("AssertionID") + "; " + verdict;
    }

    // -- ESB services with the SAML holder-of-key token -----------------------------------------
    String service(String name, String path, String soapAction, String payloadKey) throws Exception {
        requireToken();
        SOAPMessage message = newMessage(readXml(config.get(payloadKey)), false);
        if (soapAction != null) {
            setSoapAction(message, soapAction);
        }
        signWithSamlToken(message, true);
        SOAPMessage reply = send(name, message, path);
        String verdict = verifyAnswer(reply, true);
        Element answer = firstChildElement(reply.getSOAPBody());
        return "SOAPAction=" + (soapAction == null ? "(none)" : quoted(soapAction))
            + "; SAML HOK signature (Timestamp, Body, STR KeyIdentifier SAMLAssertionID);"
            + " answer " + answer.getLocalName() + "; " + verdict;
    }

    // -- GenAsync -------------------------------------------------------------------------------
    String genAsyncPost() throws Exception {
        requireToken();
        Document payload = readXml(config.get("genasync.post.payload"));
        SOAPMessage message = newMessage(payload, true);
        int threshold = Integer.parseInt(
            config.opt("genasync.threshold", String.valueOf(GENASYNC_DEFAULT_THRESHOLD)));
        String packaging = optimise(message, threshold);
        addWsAddressing(message, GA_POST, config.get("genasync.post.to"));
        signWithSamlToken(message, false);
        SOAPMessage reply = send("genasync-post", message, config.get("genasync.path"));
        String verdict = verifyAnswer(reply, false);
        Element ret = child(firstChildElement(reply.getSOAPBody()), GA, "return");
        String result = ret == null ? "?" : ret.getAttribute("ResultMajor");
        if (!result.endsWith("success")) {
            throw new StepFailure("TAck ResultMajor " + result + " "
                + (ret == null ? "" : ret.getAttribute("ResultMessage")));
        }
        return "SOAPAction=(none); wsa:Action mustUnderstand=1; Timestamp-only signature; "
            + packaging + "; TAck " + result + "; " + verdict;
    }

    String genAsyncGet(Document[] keep, int expected, String name) throws Exception {
        requireToken();
        int messages = 0;
        Document answer = null;
        int calls = 0;
        while (calls < 20) {
            calls++;
            answer = genAsyncCall(name, GA_GET, readXml(config.get("genasync.get.payload")));
            messages = answer.getElementsByTagNameNS(GA, "MsgResponse").getLength();
            if (messages >= expected) {
                break;
            }
            Thread.sleep(500);
        }
        keep[0] = answer;
        if (messages < expected) {
            throw new StepFailure(messages + " message(s) after " + calls + " get calls, expected "
                + expected);
        }
        return describeMessages(answer) + " after " + calls + " call(s); SOAPAction=(none); Timestamp-only signature;"
            + " answers verified by WSS4J";
    }

    String genAsyncConfirm(Document got) throws Exception {
        if (got == null) {
            throw new StepFailure("nothing to confirm: get failed");
        }
        List<String> hashes = new ArrayList<>();
        NodeList messages = got.getElementsByTagNameNS(GA, "MsgResponse");
        for (int i = 0; i < messages.getLength(); i++) {
            Element detail = child((Element) messages.item(i), GA, "Detail");
            hashes.add(detail.getAttribute("HashValue"));
        }
        List<String> tacks = new ArrayList<>();
        NodeList tackResponses = got.getElementsByTagNameNS(GA, "TAckResponse");
        for (int i = 0; i < tackResponses.getLength(); i++) {
            Element tack = child((Element) tackResponses.item(i), GA, "TAck");
            tacks.add(tack.getTextContent().trim());
        }
        Document confirm = readXml(config.get("genasync.confirm.payload"));
        Element root = confirm.getDocumentElement();
        String prefix = root.getPrefix() == null ? "" : root.getPrefix() + ":";
        if (!hashes.isEmpty()) {
            Element values = confirm.createElementNS(GA, prefix + "MsgHashValues");
            values.setTextContent(String.join(" ", hashes));
            root.appendChild(values);
        }
        if (!tacks.isEmpty()) {
            Element values = confirm.createElementNS(GA, prefix + "TAckContents");
            values.setTextContent(String.join(" ", tacks));
            root.appendChild(values);
        }
        Document answer = genAsyncCall("genasync-confirm", GA_CONFIRM, confirm);
        String returned = answer.getDocumentElement().getLocalName();
        return "confirmed " + hashes.size() + " message(s) by MsgHashValues and " + tacks.size()
            + " TAck(s); answer " + returned + "; SOAPAction=(none); answer verified by WSS4J";
    }

    String genAsyncGetEmpty() throws Exception {
        requireToken();
        Document answer = genAsyncCall(
            "genasync-get-after-confirm", GA_GET, readXml(config.get("genasync.get.payload")));
        int messages = answer.getElementsByTagNameNS(GA, "MsgResponse").getLength();
        int tacks = answer.getElementsByTagNameNS(GA, "TAckResponse").getLength();
        if (messages != 0 || tacks != 0) {
            throw new StepFailure(messages + " message(s) and " + tacks
                + " TAck(s) still waiting after confirm");
        }
        return "mailbox empty after confirm; answer verified by WSS4J";
    }

    /** One GenAsync exchange; returns the answer's payload as a plain DOM document. */
    Document genAsyncCall(String name, String action, Document payload) throws Exception {
        requireToken();
        SOAPMessage message = newMessage(payload, true);
        addWsAddressing(message, action, null);
        signWithSamlToken(message, false);
        SOAPMessage reply = send(name, message, config.get("genasync.path"));
        verifyAnswer(reply, false);
        Document copy = newDocumentBuilder().newDocument();
        copy.appendChild(copy.importNode(firstChildElement(reply.getSOAPBody()), true));
        return copy;
    }

    String describeMessages(Document answer) throws Exception {
        List<String> items = new ArrayList<>();
        NodeList messages = answer.getElementsByTagNameNS(GA, "MsgResponse");
        for (int i = 0; i < messages.getLength(); i++) {
            Element detail = child((Element) messages.item(i), GA, "Detail");
            String type = "?";
            if (child(detail, XOP, "Include") == null) {
                byte[] content = Base64.getMimeDecoder().decode(detail.getTextContent().trim());
                if (!"none".equals(detail.getAttribute("ContentEncoding"))) {
                    content = inflate(content);
                }
                type = new String(content, 0, Math.min(6, content.length), StandardCharsets.US_ASCII);
            }
            items.add(detail.getAttribute("MessageName") + " " + type);
        }
        int tacks = answer.getElementsByTagNameNS(GA, "TAckResponse").getLength();
        return messages.getLength() + " message(s) " + items + ", " + tacks + " TAck(s)";
    }

    /**
     * XOP as the connector does it with SAAJ: the message is marked application/xop+xml, the root
     * part gets Content-ID <root.message@ehealth.fgov.be>, and base64 content of at least
     * `threshold` bytes becomes an attachment referenced by xop:Include (what JAXB's
     * AttachmentMarshaller does for the Blob), the rest stays inline.
     */
    String optimise(SOAPMessage message, int threshold) throws Exception {
        SOAPBody body = message.getSOAPBody();
        NodeList details = body.getElementsByTagNameNS(GA, "Detail");
        List<String> attached = new ArrayList<>();
        for (int i = 0; i < details.getLength(); i++) {
            Element detail = (Element) details.item(i);
            byte[] bytes = Base64.getMimeDecoder().decode(detail.getTextContent().trim());
            if (bytes.length < threshold) {
                continue;
            }
            String cid = UUID.randomUUID() + "@ehealth.fgov.be";
            while (detail.getFirstChild() != null) {
                detail.removeChild(detail.getFirstChild());
            }
            Element include = detail.getOwnerDocument().createElementNS(XOP, "xop:Include");
            include.setAttribute("href", "cid:" + cid);
            detail.appendChild(include);
            DataHandler handler = new DataHandler(bytes, "application/octet-stream");
            AttachmentPart part = message.createAttachmentPart(handler);
            part.setContentType("application/octet-stream");
            part.addMimeHeader("Content-Transfer-Encoding", "binary");
            part.setContentId("<" + cid + ">");
            message.addAttachmentPart(part);
            attached.add(bytes.length + " bytes");
        }
        message.saveChanges();
        String contentType = String.join(",", message.getMimeHeaders().getHeader("Content-Type"));
        return (attached.isEmpty() ? "XOP package, Detail inline"
                : "MTOM/XOP attachment " + attached + " (threshold " + threshold + ")")
            + ", Content-Type " + contentType.replaceAll("boundary=\"?[^;\"]*\"?", "boundary=...");
    }

    void addWsAddressing(SOAPMessage message, String action, String to) throws Exception {
        SOAPHeader header = message.getSOAPHeader();
        if (header == null) {
            header = message.getSOAPPart().getEnvelope().addHeader();
        }
        SOAPElement actionElement = header.addChildElement(new QName(WSA, "Action", "wsa"));
        actionElement.addAttribute(new QName(SOAP11, "mustUnderstand", "S"), "1");
        actionElement.setTextContent(action);
        if (to != null) {
            header.addChildElement(new QName(WSA, "To", "wsa")).setTextContent(to);
        }
        header.addChildElement(new QName(WSA, "MessageID", "wsa"))
            .setTextContent(UUID.randomUUID().toString());
        header.addChildElement(new QName(WSA, "ReplyTo", "wsa"))
            .addChildElement(new QName(WSA, "Address", "wsa")).setTextContent(ANONYMOUS);
        header.addChildElement(new QName(WSA, "FaultTo", "wsa"))
            .addChildElement(new QName(WSA, "Address", "wsa")).setTextContent(ANONYMOUS);
        message.saveChanges();
    }

    // -- SOAP messages and transport ------------------------------------------------------------
    SOAPMessage newMessage(Document payload, boolean xop) throws Exception {
        SOAPMessage message = messageFactory.createMessage();
        SOAPPart part = message.getSOAPPart();
        if (xop) {
            message.getMimeHeaders().addHeader("Content-Type", "application/xop+xml");
            part.addMimeHeader("Content-ID", "<root.message@ehealth.fgov.be>");
            part.addMimeHeader("Content-Transfer-Encoding", "8bit");
        }
        part.getEnvelope().getBody().addDocument(payload);
        return message;
    }

    static void setSoapAction(SOAPMessage message, String action) {
        message.getMimeHeaders().setHeader("SOAPAction", quoted(action)); // WS-I R1109
    }

    SOAPMessage send(String name, SOAPMessage message, String path) throws Exception {
        message.saveChanges();
        SOAPConnection connection = connectionFactory.createConnection();
        SOAPMessage reply;
        try {
            reply = connection.call(message, new URL(endpoint + path));
        } finally {
            connection.close();
        }
        // Kept for the test's eyes only after the call: SAAJ's writeTo() would add an empty
        // SOAPAction mime header to a SOAP 1.1 message that has none.
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        message.writeTo(sent);
        Files.write(out.resolve(name + ".request"), sent.toByteArray());
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        reply.writeTo(received);
        Files.write(out.resolve(name + ".response"), received.toByteArray());
        SOAPBody body = reply.getSOAPBody();
        if (body.hasFault()) {
            throw new StepFailure(describeFault(body.getFault()));
        }
        return reply;
    }

    static String describeFault(SOAPFault fault) {
        StringBuilder text = new StringBuilder("SOAP fault ");
        text.append(fault.getFaultCode()).append(" \"").append(oneLine(fault.getFaultString()))
            .append('"');
        if (fault.getDetail() != null) {
            for (String[] item : new String[][] {
                    {SOA_ERRORS, "Code"}, {CIN_TYPES, "FaultCode"}, {CIN_TYPES, "DetailCode"},
                    {CIN_TYPES, "Message"}}) {
                NodeList found = fault.getDetail().getElementsByTagNameNS(item[0], item[1]);
                for (int i = 0; i < found.getLength(); i++) {
                    text.append(' ').append(item[1]).append('=')
                        .append(oneLine(found.item(i).getTextContent()));
                }
            }
        }
        return text.toString();
    }

    // -- WS-Security, the connector's way with WSS4J --------------------------------------------
    /** CertificateCallback: Timestamp, X.509 BST, signature over Body, Timestamp and BST. */
    void signWithCertificate(SOAPMessage message) throws Exception {
        Document part = domOf(message);
        WSSecHeader header = new WSSecHeader();
        header.setMustUnderstand(true);
        header.insertSecurityHeader(part);
        WSSecTimestamp timestamp = new WSSecTimestamp();
        timestamp.setTimeToLive(TIMESTAMP_TTL_SECONDS);
        timestamp.build(part, header);
        WSSecSignature signature = newSignature();
        signature.setKeyIdentifierType(WSConstants.BST_DIRECT_REFERENCE);
        signature.prepare(part, signingCrypto, header);
        signature.appendBSTElementToHeader(header);
        List<WSEncryptionPart> parts = new ArrayList<>();
        parts.add(new WSEncryptionPart("Body", SOAP11, "Content"));
        parts.add(new WSEncryptionPart(timestamp.getId()));
        parts.add(new WSEncryptionPart(signature.getBSTTokenId()));
        List<Reference> references = signature.addReferencesToSign(parts, header);
        signature.computeSignature(references, false, null);
        message.saveChanges();
    }

    /**
     * SAMLHolderOfKeyHandler: Timestamp, the STS assertion unchanged, a signature with the
     * holder-of-key key referenced by an STR KeyIdentifier (SAMLAssertionID, TokenType SAMLV1.1).
     * ESB services sign Body and Timestamp; GenAsync's own handler signs the Timestamp only.
     */
    void signWithSamlToken(SOAPMessage message, boolean body) throws Exception {
        Document part = domOf(message);
        WSSecHeader header = new WSSecHeader();
        header.setMustUnderstand(true);
        header.insertSecurityHeader(part);
        WSSecTimestamp timestamp = new WSSecTimestamp();
        timestamp.setTimeToLive(TIMESTAMP_TTL_SECONDS);
        timestamp.build(part, header);
        header.getSecurityHeader().appendChild(part.importNode(assertion, true));
        WSSecSignature signature = newSignature();
        signature.setKeyIdentifierType(WSConstants.CUSTOM_KEY_IDENTIFIER);
        signature.setCustomTokenValueType(SAML_ASSERTION_ID_VALUE_TYPE);
        signature.setCustomTokenId(assertion.getAttribute("AssertionID"));
        signature.prepare(part, signingCrypto, header);
        SecurityTokenReference reference = signature.getSecurityTokenReference();
        if (!reference.getElement().hasAttributeNS(WSConstants.WSSE11_NS, "TokenType")) {
            reference.addTokenType(SAML11_TOKEN_TYPE);
        }
        List<WSEncryptionPart> parts = new ArrayList<>();
        if (body) {
            parts.add(new WSEncryptionPart("Body", SOAP11, "Content"));
        }
        parts.add(new WSEncryptionPart(timestamp.getId()));
        List<Reference> references = signature.addReferencesToSign(parts, header);
        signature.computeSignature(references, false, null);
        message.saveChanges();
    }

    /**
     * The DOM that WSS4J works on. The connector hands WSS4J the SOAPPart itself; with SAAJ
     * 1.4.1 on Java 9+ that mixes SAAJ's wrapper nodes with the raw nodes found by walking the
     * tree and fails with WRONG_DOCUMENT_ERR, so WSS4J gets the SOAPPart's underlying DOM
     * document instead: same nodes, same message, what SAAJ then serialises and sends.
     */
    static Document domOf(SOAPMessage message) throws Exception {
        if (message.getSOAPHeader() == null) {
            message.getSOAPPart().getEnvelope().addHeader();
        }
        return ((SOAPPartImpl) message.getSOAPPart()).getDocument().getDomDocument();
    }

    WSSecSignature newSignature() {
        WSSecSignature signature = new WSSecSignature();
        signature.setUserInfo(alias, password);
        signature.setDigestAlgo(SHA256);
        signature.setSignatureAlgorithm(RSA_SHA256);
        return signature;
    }

    /**
     * WSS4J verifies the answer's wsse:Security (signature, certificate trusted through the
     * simulator's CA, Timestamp); we then check what the signature covers.
     */
    String verifyAnswer(SOAPMessage reply, boolean bodyMustBeSigned) throws Exception {
        Document document = reply.getSOAPPart();
        WSSecurityEngine engine = new WSSecurityEngine();
        List<WSSecurityEngineResult> results;
        try {
            results = engine.processSecurityHeader(document, null, new NoCallbacks(), trustCrypto);
        } catch (Exception error) {
            throw new StepFailure("answer signature rejected by WSS4J: " + error.getMessage());
        }
        if (results == null || results.isEmpty()) {
            throw new StepFailure("the answer carries no wsse:Security header");
        }
        Set<String> signed = new LinkedHashSet<>();
        X509Certificate signer = null;
        boolean timestamp = false;
        for (WSSecurityEngineResult result : results) {
            int action = (Integer) result.get(WSSecurityEngineResult.TAG_ACTION);
            if (action == WSConstants.TS) {
                timestamp = true;
            }
            if (action == WSConstants.SIGN) {
                signer = (X509Certificate) result.get(WSSecurityEngineResult.TAG_X509_CERTIFICATE);
                @SuppressWarnings("unchecked")
                List<WSDataRef> refs =
                    (List<WSDataRef>) result.get(WSSecurityEngineResult.TAG_DATA_REF_URIS);
                for (WSDataRef ref : refs == null ? Collections.<WSDataRef>emptyList() : refs) {
                    signed.add(ref.getName().getLocalPart());
                }
            }
        }
        if (signer == null) {
            throw new StepFailure("the answer is not signed");
        }
        // Belt and braces next to WSS4J's own trust check: issued by the simulator's CA, in date.
        signer.verify(ca.getPublicKey());
        signer.checkValidity();
        if (!timestamp || !signed.contains("Timestamp")) {
            throw new StepFailure("the answer's Timestamp is missing or unsigned (signed: " + signed
                + ")");
        }
        if (bodyMustBeSigned && !signed.contains("Body")) {
            throw new StepFailure("the answer's Body is not signed (signed: " + signed + ")");
        }
        return "answer verified by WSS4J: signed " + signed + " by " + commonName(signer)
            + ", trusted through the test CA";
    }

    /** A WSS4J Crypto over one key pair (the keystore's authentication key and certificate). */
    static final class KeyPairCrypto extends Merlin {
        final PrivateKey key;
        final X509Certificate certificate;

        KeyPairCrypto(PrivateKey key, X509Certificate certificate) {
            this.key = key;
            this.certificate = certificate;
        }

        @Override
        public X509Certificate[] getX509Certificates(CryptoType type) {
            return new X509Certificate[] {certificate};
        }

        @Override
        public String getX509Identifier(X509Certificate cert) {
            return cert.getSubjectX500Principal().getName();
        }

        @Override
        public PrivateKey getPrivateKey(String identifier, String password) {
            return key;
        }

        @Override
        public PrivateKey getPrivateKey(X509Certificate cert, CallbackHandler handler) {
            return key;
        }
    }

    static final class NoCallbacks implements CallbackHandler {
        @Override
        public void handle(Callback[] callbacks) {
        }
    }

    // -- small helpers --------------------------------------------------------------------------
    void requireToken() throws StepFailure {
        if (assertion == null) {
            throw new StepFailure("no SAML token: the STS step failed");
        }
    }

    static DocumentBuilderFactory documentBuilderFactory() {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        return factory;
    }

    static javax.xml.parsers.DocumentBuilder newDocumentBuilder() throws Exception {
        return documentBuilderFactory().newDocumentBuilder();
    }

    static Document readXml(String file) throws Exception {
        return newDocumentBuilder().parse(new File(file));
    }

    static Element firstChildElement(Node parent) {
        for (Node node = parent.getFirstChild(); node != null; node = node.getNextSibling()) {
            if (node.getNodeType() == Node.ELEMENT_NODE) {
                return (Element) node;
            }
        }
        return null;
    }

    static Element child(Element parent, String namespace, String local) {
        if (parent == null) {
            return null;
        }
        for (Node node = parent.getFirstChild(); node != null; node = node.getNextSibling()) {
            if (node.getNodeType() == Node.ELEMENT_NODE && namespace.equals(node.getNamespaceURI())
                && local.equals(node.getLocalName())) {
                return (Element) node;
            }
        }
        return null;
    }

    static byte[] inflate(byte[] raw) throws Exception {
        Inflater inflater = new Inflater(true); // raw DEFLATE, as ContentEncoding="deflate"
        inflater.setInput(raw);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        while (!inflater.finished()) {
            int n = inflater.inflate(buffer);
            if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                break;
            }
            out.write(buffer, 0, n);
        }
        inflater.end();
        return out.toByteArray();
    }

    static String commonName(X509Certificate certificate) throws Exception {
        for (javax.naming.ldap.Rdn rdn : new javax.naming.ldap.LdapName(
                certificate.getSubjectX500Principal().getName()).getRdns()) {
            if ("CN".equalsIgnoreCase(rdn.getType())) {
                return "CN=" + rdn.getValue();
            }
        }
        return certificate.getSubjectX500Principal().getName();
    }

    static String quoted(String action) {
        return "\"" + action + "\"";
    }

    static String oneLine(String text) {
        return text == null ? "" : text.replaceAll("\\s+", " ").trim();
    }
}
