"""Homologation-style conformance suites: a vendor's client is run once per case against a
simulator started for the suite, and judged from what the simulator received (its journal).

model (suites, cases, expectations) <- loader (YAML, errors by line) ; resolve (a case in the
population) ; evaluator (pure checks over journal entries, via journal_view) ; runner (the
simulator in-process, the vendor command per case) ; reports (JUnit, JSON, HTML).
"""
