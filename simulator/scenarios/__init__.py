"""Scenarios: scripted rejections, injected faults and latency, applied to every service.

A scenario file (YAML) is read by `loader` into the plain values of `model` and `latency`;
`engine` applies it to the facts of each call. The server decides how an action goes on the
wire; nothing in this package knows about XML or HTTP.
"""

from __future__ import annotations

from simulator.scenarios.engine import CallFacts, Decision, RuleState, ScenarioEngine
from simulator.scenarios.latency import (
    EndpointLatency,
    Fixed,
    LatencyModel,
    LatencyTable,
    LogNormal,
    Normal,
    Uniform,
)
from simulator.scenarios.loader import (
    Operations,
    ScenarioError,
    load_scenario,
    load_scenario_file,
)
from simulator.scenarios.model import (
    Action,
    ConnectionReset,
    Delay,
    DelayMessage,
    EmptyBody,
    ExpiredToken,
    HttpStatus,
    InvalidSignature,
    Limit,
    MalformedBody,
    Match,
    MissingSignature,
    Reject,
    Rule,
    Scenario,
    SoapFaultAction,
    TruncatedBody,
    ValueMatch,
    WithholdMessage,
)
from simulator.scenarios.nodes import Problem
from simulator.scenarios.shipped import load_shipped, shipped_files

__all__ = [
    "Action",
    "CallFacts",
    "ConnectionReset",
    "Decision",
    "Delay",
    "DelayMessage",
    "EmptyBody",
    "EndpointLatency",
    "ExpiredToken",
    "Fixed",
    "HttpStatus",
    "InvalidSignature",
    "LatencyModel",
    "LatencyTable",
    "Limit",
    "LogNormal",
    "MalformedBody",
    "Match",
    "MissingSignature",
    "Normal",
    "Operations",
    "Problem",
    "Reject",
    "Rule",
    "RuleState",
    "Scenario",
    "ScenarioEngine",
    "ScenarioError",
    "SoapFaultAction",
    "TruncatedBody",
    "Uniform",
    "ValueMatch",
    "WithholdMessage",
    "load_scenario",
    "load_scenario_file",
    "load_shipped",
    "shipped_files",
]
