"""XML namespaces of the SOAP and eHealth protocol layers."""

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOA_ERRORS = "urn:be:fgov:ehealth:errors:soa:v1"
ERRORS_CORE = "urn:be:fgov:ehealth:errors:core:v1"
WSA = "http://www.w3.org/2005/08/addressing"
XML = "http://www.w3.org/XML/1998/namespace"
