"""Simulated eHealth security: the test PKI, ETKs, WS-Security and SAML tokens."""
