"""A SAML 2.0 identity provider on loopback for the tests: publishes its metadata, answers an SP's
AuthnRequest (HTTP-Redirect binding) with a signed Response posted back by an auto-submitting form
(HTTP-POST binding), as Okta or any standard IdP does.

It signs with its own fresh RSA key through xmlsec (python3-saml's signing helper), and can be told to
misbehave: a wrong audience, an expired assertion, no signature. pysaml2 would need the xmlsec1 binary,
which this machine does not have; this IdP speaks the same protocol and the SP side is allauth's unchanged.
"""

from __future__ import annotations

import base64
import html
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from support.loopback import serving

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"


def _key_and_cert() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-idp")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem_key, cert.public_bytes(serialization.Encoding.PEM).decode()


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class IdP:
    def __init__(self) -> None:
        self.key, self.cert_pem = _key_and_cert()
        self.cert_b64 = "".join(self.cert_pem.strip().splitlines()[1:-1])
        self.url = ""
        self.email = ""
        self.first_name = "Sam"
        self.mode = "ok"  # ok | wrong_audience | expired | unsigned
        self.requests: list[dict[str, str]] = []
        self.last_form: dict[str, str] = {}

    @property
    def entity_id(self) -> str:
        return self.url + "/idp"

    def metadata(self) -> str:
        return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{self.entity_id}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{self.cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="{self.url}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""

    def respond(self, saml_request: str, relay_state: str) -> dict[str, str]:
        """The form fields (SAMLResponse, RelayState) and target for an AuthnRequest."""
        request = etree.fromstring(OneLogin_Saml2_Utils.decode_base64_and_inflate(saml_request))
        issuer = request.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer")
        sp_entity = issuer.text if issuer is not None else ""
        acs = request.get("AssertionConsumerServiceURL") or ""
        request_id = request.get("ID") or ""
        self.requests.append({"id": request_id, "acs": acs, "sp": sp_entity})
        now = datetime.now(UTC)
        until = now - timedelta(minutes=10) if self.mode == "expired" else now + timedelta(minutes=5)
        since = until - timedelta(minutes=10)
        audience = "https://somewhere-else.example/sp" if self.mode == "wrong_audience" else sp_entity
        assertion_id, response_id = f"_a{uuid.uuid4().hex}", f"_r{uuid.uuid4().hex}"
        email = html.escape(self.email)
        assertion = f"""<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"
    ID="{assertion_id}" Version="2.0" IssueInstant="{_instant(since)}">
  <saml:Issuer>{self.entity_id}</saml:Issuer>
  <saml:Subject>
    <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{email}</saml:NameID>
    <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
      <saml:SubjectConfirmationData NotOnOrAfter="{_instant(until)}" Recipient="{acs}"
          InResponseTo="{request_id}"/>
    </saml:SubjectConfirmation>
  </saml:Subject>
  <saml:Conditions NotBefore="{_instant(since)}" NotOnOrAfter="{_instant(until)}">
    <saml:AudienceRestriction><saml:Audience>{html.escape(audience)}</saml:Audience></saml:AudienceRestriction>
  </saml:Conditions>
  <saml:AuthnStatement AuthnInstant="{_instant(since)}" SessionIndex="_s{uuid.uuid4().hex}">
    <saml:AuthnContext>
      <saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef>
    </saml:AuthnContext>
  </saml:AuthnStatement>
  <saml:AttributeStatement>
    <saml:Attribute Name="urn:oid:0.9.2342.19200300.100.1.3">
      <saml:AttributeValue>{email}</saml:AttributeValue>
    </saml:Attribute>
    <saml:Attribute Name="urn:oid:2.5.4.42">
      <saml:AttributeValue>{self.first_name}</saml:AttributeValue>
    </saml:Attribute>
  </saml:AttributeStatement>
</saml:Assertion>"""
        if self.mode != "unsigned":
            assertion = OneLogin_Saml2_Utils.add_sign(assertion, self.key, self.cert_pem).decode()
            assertion = assertion.split("?>", 1)[-1] if assertion.startswith("<?xml") else assertion
        response = f"""<samlp:Response xmlns:samlp="{SAMLP}"
    xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{response_id}" Version="2.0"
    IssueInstant="{_instant(now)}" Destination="{acs}" InResponseTo="{request_id}">
  <saml:Issuer>{self.entity_id}</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  {assertion}
</samlp:Response>"""
        form = {
            "action": acs,
            "SAMLResponse": base64.b64encode(response.encode()).decode(),
            "RelayState": relay_state,
        }
        self.last_form = form
        return form


def _handler(idp: IdP) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: str, content_type: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/metadata":
                self._send(200, idp.metadata(), "application/samlmetadata+xml")
                return
            if parts.path == "/sso":
                query = parse_qs(parts.query)
                form = idp.respond(query["SAMLRequest"][0], query.get("RelayState", [""])[0])
                page = (
                    "<!DOCTYPE html><html lang='en'><head><title>IdP</title></head>"
                    "<body onload='document.forms[0].submit()'>"
                    f"<form method='post' action='{html.escape(form['action'])}'>"
                    f"<input type='hidden' name='SAMLResponse' value='{form['SAMLResponse']}'>"
                    f"<input type='hidden' name='RelayState' value='{html.escape(form['RelayState'])}'>"
                    "<button type='submit'>Continue</button></form></body></html>"
                )
                self._send(200, page, "text/html; charset=utf-8")
                return
            self._send(404, "not found", "text/plain")

    return Handler


@contextmanager
def running_idp() -> Iterator[IdP]:
    idp = IdP()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(idp))
    idp.url = f"http://127.0.0.1:{server.server_address[1]}"
    with serving(server):
        yield idp
