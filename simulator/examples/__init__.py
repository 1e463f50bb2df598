"""Example vendor clients for the conformance harness, installed with the package.

`mycarenet-sim example reference-client` passes every shipped case; `mycarenet-sim example
broken-client FAULT` breaks one rule, which exactly one case catches.
"""
