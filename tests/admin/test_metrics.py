"""/metrics: Prometheus text that parses back, with counts that match the calls made."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from simulator.server.metrics import Metrics
from simulator.store.base import JournalEntry
from tests.admin.conftest import Admin

ONE_FAULT_IN_THREE = """\
name: third-etk-fails
rules:
  - id: etk-fault
    match: {service: etkdepot, nth: 3}
    action: {type: soap_fault, code: SOA-02002}
"""


async def scrape(admin: Admin) -> dict[str, list[Sample]]:
    answer = await admin.call("GET", "/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f.samples for f in text_string_to_metric_families(answer.body)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    matching = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(matching) == 1, (name, labels, samples)
    return matching[0]


@pytest.fixture
async def played(admin: Admin) -> dict[str, list[Sample]]:
    """Before/after difference is what these tests read: other tests share the server."""
    await admin.call("POST", "/__admin/reset", json={"clock": True})
    await admin.call(
        "PUT", "/__admin/scenario", data=ONE_FAULT_IN_THREE, headers={"Content-Type": "text/yaml"}
    )
    before = await scrape(admin)
    statuses = [await admin.etk(), await admin.etk("SSIN", "93062644690"), await admin.etk()]
    assert statuses == [200, 200, 500]
    after = await scrape(admin)
    return {"before": before["mycarenet_requests"], **after}


async def test_requests_per_operation_and_outcome(played: dict[str, list[Sample]]) -> None:
    def delta(outcome: str) -> float:
        labels = {"service": "etkdepot", "operation": "GetEtk", "outcome": outcome}
        after = value(played["mycarenet_requests"], "mycarenet_requests_total", **labels)
        before = [
            s.value
            for s in played["before"]
            if s.name == "mycarenet_requests_total" and s.labels == labels
        ]
        return after - sum(before)

    assert (delta("ok"), delta("business-error"), delta("fault")) == (1, 1, 1)
    codes = played["mycarenet_response_codes"]
    labels = {"service": "etkdepot", "operation": "GetEtk"}
    assert value(codes, "mycarenet_response_codes_total", **labels, code="SOA-02002") >= 1
    assert value(codes, "mycarenet_response_codes_total", **labels, code="DataNotFound") >= 1


async def test_latency_histogram_counts_every_call(played: dict[str, list[Sample]]) -> None:
    samples = played["mycarenet_request_duration_seconds"]
    labels = {"service": "etkdepot", "operation": "GetEtk"}
    count = value(samples, "mycarenet_request_duration_seconds_count", **labels)
    total = sum(
        s.value
        for s in played["mycarenet_requests"]
        if s.name == "mycarenet_requests_total"
        and s.labels["service"] == "etkdepot"
        and s.labels["operation"] == "GetEtk"
    )
    assert count == total >= 3
    assert value(samples, "mycarenet_request_duration_seconds_bucket", **labels, le="+Inf") == count
    buckets = [
        float(s.labels["le"])
        for s in samples
        if s.name.endswith("_bucket") and s.labels["service"] == "etkdepot"
    ]
    assert 0.01 in buckets and 10.0 in buckets


async def test_scenario_rules_and_clock(admin: Admin, played: dict[str, list[Sample]]) -> None:
    rule = {"scenario": "third-etk-fails", "rule": "etk-fault"}
    fired = played["mycarenet_scenario_rule_fired"]
    matched = played["mycarenet_scenario_rule_matched"]
    assert value(fired, "mycarenet_scenario_rule_fired_total", **rule) == 1
    assert value(matched, "mycarenet_scenario_rule_matched_total", **rule) == 3
    info = played["mycarenet_simulator_info"]
    assert info[0].labels["scenario"] == "third-etk-fails"
    assert value(played["mycarenet_clock_frozen"], "mycarenet_clock_frozen") == 0
    await admin.call("PUT", "/__admin/clock", json={"frozen": True})
    await admin.call("POST", "/__admin/clock/advance", json={"days": 2})
    later = await scrape(admin)
    assert value(later["mycarenet_clock_frozen"], "mycarenet_clock_frozen") == 1
    offset = value(later["mycarenet_clock_offset_seconds"], "mycarenet_clock_offset_seconds")
    assert 2 * 86_400 - 60 < offset <= 2 * 86_400


def test_each_simulator_has_its_own_registry() -> None:
    entry = JournalEntry(
        at="2025-01-01T00:00:00+00:00",
        service="etar",
        operation="TarificationConsultation",
        path="/p",
        outcome="ok",
        http_status=200,
        duration_ms=20.0,
    )
    first, second = Metrics(), Metrics()
    first.observe(entry)
    first.observe(entry)
    labels = {"service": "etar", "operation": "TarificationConsultation", "outcome": "ok"}
    assert first.registry.get_sample_value("mycarenet_requests_total", labels) == 2
    assert second.registry.get_sample_value("mycarenet_requests_total", labels) is None
    le = {"service": "etar", "operation": "TarificationConsultation", "le": "0.025"}
    assert first.registry.get_sample_value("mycarenet_request_duration_seconds_bucket", le) == 2
    le["le"] = "0.01"
    assert first.registry.get_sample_value("mycarenet_request_duration_seconds_bucket", le) == 0
