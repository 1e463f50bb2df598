"""Scenario files (YAML) -> Scenario, with errors that name the line they are about.

The file is composed into YAML nodes (not loaded into plain data) so that every value keeps
its line (`nodes` reads them). Errors are collected rule by rule, so one run of `scenario
check` reports every bad rule, not just the first. Service and operation names are checked against a
list the caller passes in: this module does not import the services.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from simulator.domain.catalogue import NAMES as CATALOGUES
from simulator.domain.catalogue import ErrorCatalogue
from simulator.domain.identifiers import (
    is_valid_mutuality,
    is_valid_nihii,
    is_valid_niss,
    is_valid_nomenclature_code,
)
from simulator.scenarios.latency import MODEL_FIELDS, EndpointLatency, LatencyModel, LatencyTable
from simulator.scenarios.model import (
    ACTION_TYPES,
    TWO_MONTH_RULES,
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
from simulator.scenarios.nodes import (
    FileProblems,
    Invalid,
    Problem,
    collect_mapping,
    identifier,
    instant,
    integer,
    key_of,
    line_of,
    mapping,
    number,
    sequence,
    suggest,
    text,
)
from simulator.soap.faults import SOA_MEANINGS

_T = TypeVar("_T")


class _Reported(Exception):
    """A rule whose problems are already in the loader's list."""


# service name -> operation names, e.g. {"eattest": {"SendAttestation", "CancelAttestation"}}
Operations = Mapping[str, Collection[str]]

# Which catalogue a `reject` without `catalogue:` uses, from the single service it matches.
SERVICE_CATALOGUES = {
    "eattest": "eattest",
    "etar": "etar",
    "etar-mediprima": "etar-mediprima",
    "memberdata": "memberdata",
    "genasync": "efact",
}
# The ESB's generic catalogue holds the SOA-xxxxx texts.
SOA_CATALOGUE = "genins"

_SOA = re.compile(r"SOA-\d{5}")

# PyYAML composes nested collections recursively: a few thousand `[` exhaust Python's stack
# (RecursionError). A real scenario nests about six levels deep and weighs a few kB.
MAX_DEPTH = 32
MAX_CHARACTERS = 1024 * 1024


class ScenarioError(FileProblems):
    """A scenario file that cannot be used; `problems` lists every error found, by line."""


def load_scenario_file(path: Path, *, operations: Operations | None = None) -> Scenario:
    """Read and check `path`; the scenario's name defaults to the file name without .yaml."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), [Problem(1, f"cannot read the file: {exc}")]) from exc
    return load_scenario(text, source=str(path), default_name=path.stem, operations=operations)


def load_scenario(
    text: str,
    *,
    source: str = "<scenario>",
    default_name: str | None = None,
    operations: Operations | None = None,
) -> Scenario:
    """Build a Scenario from YAML text, or raise ScenarioError listing every problem found."""
    if len(text) > MAX_CHARACTERS:
        too_long = f"the file has {len(text)} characters; a scenario may have {MAX_CHARACTERS}"
        raise ScenarioError(source, [Problem(1, too_long)])
    try:
        root = yaml.compose(text, Loader=_DepthBoundedLoader)
    except _TooDeep as exc:
        raise ScenarioError(source, [Problem(exc.line, str(exc))]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ScenarioError(source, [Problem(line, f"not valid YAML: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:  # e.g. several documents in one file
        raise ScenarioError(source, [Problem(1, f"not valid YAML: {exc}")]) from exc
    if root is None:
        raise ScenarioError(source, [Problem(1, "the file is empty; expected a scenario")])
    return _Builder(operations).scenario(root, source, default_name)


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(f"collections nested more than {MAX_DEPTH} levels deep")
        self.line = line


class _DepthBoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer stops at MAX_DEPTH nested nodes instead of recursing on."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(parent.start_mark.line + 1 if parent is not None else 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Builder:
    def __init__(self, operations: Operations | None) -> None:
        self.operations = operations
        self.problems: list[Problem] = []

    def scenario(self, root: Node, source: str, default_name: str | None) -> Scenario:
        try:
            fields = mapping(
                root,
                "the scenario",
                required=(),
                allowed=(
                    "name", "description", "latency", "rules", "allow_replay",
                    "efact_two_month_rule",
                ),
            )
        except Invalid as exc:
            raise ScenarioError(source, [exc.problem]) from exc
        name = default_name or ""
        description = ""
        latency = LatencyTable()
        rules: list[Rule] = []
        allow_replay = False
        two_month_rule = "fine"
        for key, node in fields.items():
            try:
                if key == "allow_replay":
                    allow_replay = _boolean(node, "allow_replay")
                elif key == "efact_two_month_rule":
                    two_month_rule = text(node, "efact_two_month_rule")
                    if two_month_rule not in TWO_MONTH_RULES:
                        raise Invalid(node, (
                            f"efact_two_month_rule {two_month_rule!r}: expected one of "
                            f"{', '.join(TWO_MONTH_RULES)}"))
                elif key == "name":
                    name = identifier(node, "name")
                elif key == "description":
                    description = text(node, "description")
                elif key == "latency":
                    latency = self.latency(node)
                elif key == "rules":
                    rules = self.rules(node)
            except Invalid as exc:
                self.problems.append(exc.problem)
        if not name and "name" not in fields:
            self.problems.append(Problem(line_of(root), "the scenario has no `name`"))
        if self.problems:
            raise ScenarioError(source, self.problems)
        return Scenario(
            name=name,
            description=description,
            rules=tuple(rules),
            latency=latency,
            allow_replay=allow_replay,
            efact_two_month_rule=two_month_rule,
        )

    # --- rules ---------------------------------------------------------------------------

    def rules(self, node: Node) -> list[Rule]:
        rules: list[Rule] = []
        seen: dict[str, int] = {}
        for item in sequence(node, "rules"):
            try:
                rule = self.rule(item)
            except Invalid as exc:
                self.problems.append(exc.problem)
                continue
            except _Reported:
                continue
            if rule.id in seen:
                self.problems.append(
                    Problem(
                        rule.line, f"rule id {rule.id!r} is already used on line {seen[rule.id]}"
                    )
                )
                continue
            seen[rule.id] = rule.line
            rules.append(rule)
        return rules

    def rule(self, node: Node) -> Rule:
        """One rule; every part is checked even when an earlier one is wrong, so that one
        run of `scenario check` lists every problem (raises _Reported when any was found)."""
        before = len(self.problems)
        fields = collect_mapping(
            node,
            "a rule",
            required=("id", "action"),
            allowed=("id", "description", "match", "action", "limit"),
            problems=self.problems,
        )

        def part(key: str, build: Callable[[Node], _T], fallback: _T) -> _T:
            if key not in fields:
                return fallback
            return self._collect(lambda: build(fields[key]), fallback)

        rule_id = part("id", lambda n: identifier(n, "id"), "")
        match = part("match", self.match, Match())
        action: Action | None = part("action", lambda n: self.action(n, match), None)
        limit = part("limit", _limit, Limit())
        description = part("description", lambda n: text(n, "description"), "")
        if len(self.problems) > before or action is None:
            raise _Reported
        return Rule(rule_id, match, action, limit, description, line_of(node))

    def _collect(self, build: Callable[[], _T], fallback: _T) -> _T:
        """`build()`, or `fallback` with its problem recorded."""
        try:
            return build()
        except Invalid as exc:
            self.problems.append(exc.problem)
            return fallback

    def match(self, node: Node) -> Match:
        fields = collect_mapping(
            node,
            "`match`",
            required=(),
            allowed=(
                "service",
                "operation",
                "provider_nihii",
                "patient_ssin",
                "code",
                "insurer",
                "message_name",
                "nth",
                "probability",
                "seed",
            ),
            problems=self.problems,
        )

        def value(key: str, check: Callable[[str], str | None] | None) -> ValueMatch | None:
            return self._collect(lambda: self.values(fields.get(key), key, check), None)

        def scalar(key: str, build: Callable[[Node], _T]) -> _T | None:
            return self._collect(lambda: build(fields[key]), None) if key in fields else None

        service = value("service", self._check_service)
        services = service.values if service is not None and service.pattern is None else None
        return Match(
            service=service,
            operation=value("operation", lambda v: self._check_operation(v, services)),
            provider_nihii=value("provider_nihii", _check(is_valid_nihii, "NIHII")),
            patient_ssin=value("patient_ssin", _check(is_valid_niss, "NISS")),
            code=_normalise_codes(
                value("code", _check(is_valid_nomenclature_code, "nomenclature code"))
            ),
            insurer=value("insurer", _check(is_valid_mutuality, "insurer code")),
            message_name=value("message_name", None),
            nth=scalar("nth", lambda n: integer(n, "nth", minimum=1)),
            probability=scalar("probability", _probability),
            seed=scalar("seed", _seed),
        )

    def values(
        self, node: Node | None, what: str, check: Callable[[str], str | None] | None
    ) -> ValueMatch | None:
        """A value, a list of values, or `{regex: ...}`; each plain value is checked."""
        if node is None:
            return None
        if isinstance(node, MappingNode):
            fields = mapping(node, f"`{what}`", required=("regex",), allowed=("regex",))
            source = text(fields["regex"], "regex")
            try:
                return ValueMatch(pattern=re.compile(source))
            except re.error as exc:
                raise Invalid(fields["regex"], f"`{what}` regex {source!r}: {exc}") from exc
        items = sequence(node, what) if isinstance(node, SequenceNode) else [node]
        if not items:
            raise Invalid(node, f"`{what}` is an empty list; leave it out to match anything")
        values: set[str] = set()
        for item in items:
            value = text(item, what)
            problem = check(value) if check is not None else None
            if problem is not None:
                raise Invalid(item, f"`{what}`: {problem}")
            values.add(value)
        return ValueMatch(values=frozenset(values))

    def _check_service(self, value: str) -> str | None:
        if self.operations is None or value in self.operations:
            return None
        return f"unknown service {value!r}{suggest(value, self.operations)}"

    def _check_operation(self, value: str, services: frozenset[str] | None) -> str | None:
        if self.operations is None:
            return None
        scope = services if services is not None else frozenset(self.operations)
        known = {op for service in scope for op in self.operations.get(service, ())}
        if value in known:
            return None
        where = f"of {', '.join(sorted(scope))}" if services is not None else "of any service"
        return f"{value!r} is not an operation {where}{suggest(value, known)}"

    # --- actions -------------------------------------------------------------------------

    def action(self, node: Node, match: Match) -> Action:
        if not isinstance(node, MappingNode):
            raise Invalid(node, "`action` must be a mapping with a `type`")
        type_node = next((v for k, v in node.value if key_of(k) == "type"), None)
        if type_node is None:
            raise Invalid(node, f"`action` has no `type`; one of: {', '.join(ACTION_TYPES)}")
        kind = text(type_node, "type")
        if kind not in ACTION_TYPES:
            raise Invalid(
                type_node,
                f"unknown action type {kind!r}{suggest(kind, ACTION_TYPES)}; "
                f"one of: {', '.join(ACTION_TYPES)}",
            )
        required, optional = _ACTION_KEYS.get(kind, ((), ()))
        fields = mapping(
            node, f"a `{kind}` action", required=required, allowed=("type", *required, *optional)
        )
        if kind == "reject":
            return _reject(fields, match, node)
        if kind == "soap_fault":
            return _soap_fault(fields)
        if kind == "http_status":
            body = text(fields["body"], "body") if "body" in fields else ""
            return HttpStatus(integer(fields["status"], "status", minimum=100, maximum=599), body)
        if kind == "truncated_body":
            if "keep" not in fields:
                return TruncatedBody()
            keep = number(fields["keep"], "keep")
            if not 0 < keep < 1:
                raise Invalid(fields["keep"], f"`keep` is a fraction between 0 and 1, got {keep}")
            return TruncatedBody(keep)
        if kind == "delay":
            return Delay(number(fields["seconds"], "seconds", minimum=0))
        if kind == "delay_message":
            return DelayMessage(number(fields["seconds"], "seconds", minimum=0))
        return _PLAIN_ACTIONS[kind]

    # --- latency -------------------------------------------------------------------------

    def latency(self, node: Node) -> LatencyTable:
        fields = mapping(node, "`latency`", required=(), allowed=("default", "endpoints"))
        default = _latency_model(fields["default"], ()) if "default" in fields else None
        endpoints: list[EndpointLatency] = []
        if "endpoints" in fields:
            for item in sequence(fields["endpoints"], "endpoints"):
                try:
                    endpoints.append(self.endpoint(item))
                except Invalid as exc:
                    self.problems.append(exc.problem)
        return LatencyTable(default, tuple(endpoints))

    def endpoint(self, node: Node) -> EndpointLatency:
        model = _latency_model(node, ("service", "operation"), required=("service",))
        fields = mapping(node, "an endpoint", required=(), allowed=None)
        service = text(fields["service"], "service")
        problem = self._check_service(service)
        if problem is not None:
            raise Invalid(fields["service"], f"`service`: {problem}")
        operation = None
        if "operation" in fields:
            operation = text(fields["operation"], "operation")
            problem = self._check_operation(operation, frozenset({service}))
            if problem is not None:
                raise Invalid(fields["operation"], f"`operation`: {problem}")
        return EndpointLatency(service, operation, model)


# --- action helpers ----------------------------------------------------------------------

_ACTION_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "reject": (("code",), ("catalogue", "path")),
    "soap_fault": (("code",), ("reason", "http_status")),
    "http_status": (("status",), ("body",)),
    "truncated_body": ((), ("keep",)),
    "delay": (("seconds",), ()),
    "delay_message": (("seconds",), ()),
}

_PLAIN_ACTIONS: dict[str, Action] = {
    "connection_reset": ConnectionReset(),
    "empty_body": EmptyBody(),
    "malformed_body": MalformedBody(),
    "invalid_signature": InvalidSignature(),
    "missing_signature": MissingSignature(),
    "expired_token": ExpiredToken(),
    "withhold_message": WithholdMessage(),
}


def _reject(fields: dict[str, Node], match: Match, node: Node) -> Reject:
    if "catalogue" in fields:
        catalogue = text(fields["catalogue"], "catalogue")
        if catalogue not in CATALOGUES:
            raise Invalid(
                fields["catalogue"],
                f"unknown catalogue {catalogue!r}; one of: {', '.join(CATALOGUES)}",
            )
    else:
        services = match.service.values if match.service is not None else frozenset()
        guessed = {SERVICE_CATALOGUES.get(service) for service in services}
        if len(guessed) != 1 or None in guessed:
            raise Invalid(
                node,
                "`reject` needs `catalogue:` (one of "
                f"{', '.join(CATALOGUES)}) unless the rule matches a single service among "
                f"{', '.join(SERVICE_CATALOGUES)}",
            )
        catalogue = str(guessed.pop())
    code = text(fields["code"], "code")
    path = text(fields["path"], "path") if "path" in fields else None
    try:
        entry = ErrorCatalogue.load(catalogue).entry(code, path)
    except KeyError:
        raise Invalid(
            fields["code"], f"code {code!r} is not in the {catalogue} error catalogue"
        ) from None
    return Reject(catalogue, code, path or entry.path, entry.fr, entry.nl)


def _soap_fault(fields: dict[str, Node]) -> SoapFaultAction:
    code = text(fields["code"], "code")
    if not _SOA.fullmatch(code):
        raise Invalid(fields["code"], f"a SOAP fault code looks like SOA-03001, got {code!r}")
    try:
        entry = ErrorCatalogue.load(SOA_CATALOGUE).entry(code)
    except KeyError:
        raise Invalid(fields["code"], f"{code} is not a known ESB fault code") from None
    # The reason is the xml:lang="en" Message; the FR/NL ones come from the catalogue.
    default = f"{SOA_MEANINGS.get(code, code)} (forced by the running scenario)"
    reason = text(fields["reason"], "reason") if "reason" in fields else default
    status = 500
    if "http_status" in fields:
        status = integer(fields["http_status"], "http_status", minimum=100, maximum=599)
    return SoapFaultAction(code, reason, entry.fr, entry.nl, status)


# --- limits and latency models -----------------------------------------------------------


def _limit(node: Node) -> Limit:
    fields = mapping(
        node, "`limit`", required=(), allowed=("count", "not_before", "not_after", "within_seconds")
    )
    count = integer(fields["count"], "count", minimum=1) if "count" in fields else None
    not_before = instant(fields["not_before"], "not_before") if "not_before" in fields else None
    not_after = instant(fields["not_after"], "not_after") if "not_after" in fields else None
    if not_before is not None and not_after is not None and not_after <= not_before:
        raise Invalid(fields["not_after"], "`not_after` must come after `not_before`")
    within = None
    if "within_seconds" in fields:
        within = number(fields["within_seconds"], "within_seconds", minimum=0)
    return Limit(count, not_before, not_after, within)


def _latency_model(
    node: Node, extra: tuple[str, ...], required: tuple[str, ...] = ()
) -> LatencyModel:
    if not isinstance(node, MappingNode):
        raise Invalid(node, "a latency model is a mapping with a `model`")
    kind_node = next((v for k, v in node.value if key_of(k) == "model"), None)
    if kind_node is None:
        raise Invalid(node, f"latency has no `model`; one of: {', '.join(MODEL_FIELDS)}")
    kind = text(kind_node, "model")
    if kind not in MODEL_FIELDS:
        raise Invalid(
            kind_node,
            f"unknown latency model {kind!r}{suggest(kind, MODEL_FIELDS)}; "
            f"one of: {', '.join(MODEL_FIELDS)}",
        )
    cls, names = MODEL_FIELDS[kind]
    fields = mapping(
        node, f"a `{kind}` latency", required=(*required, *names), allowed=("model", *extra, *names)
    )
    figures = [number(fields[name], name, minimum=0) for name in names]
    if kind == "uniform" and figures[1] < figures[0]:
        raise Invalid(fields["high_ms"], "`high_ms` must not be below `low_ms`")
    if kind == "lognormal":
        if figures[0] <= 0:
            raise Invalid(fields["median_ms"], "`median_ms` must be above 0")
        if figures[1] <= figures[0]:
            raise Invalid(fields["p99_ms"], "`p99_ms` must be above `median_ms`")
    return cls(*figures)


_BOOLEANS = SafeConstructor()


def _boolean(node: Node, what: str) -> bool:
    if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
        raise Invalid(node, f"`{what}` must be true or false, got {node.value!r}")
    return bool(_BOOLEANS.construct_yaml_bool(node))


def _probability(node: Node) -> float:
    value = number(node, "probability")
    if not 0 < value <= 1:
        raise Invalid(node, f"`probability` must be above 0 and at most 1, got {value:g}")
    return value


def _seed(node: Node) -> int | str:
    value = text(node, "seed")
    return int(value) if value.lstrip("-").isdigit() else value


def _check(valid: Callable[[str], bool], what: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if valid(value) else f"{value!r} is not a valid {what}"

    return check


def _normalise_codes(match: ValueMatch | None) -> ValueMatch | None:
    # eFact writes codes on 7 digits with a leading 0; the engine compares 6-digit codes.
    if match is None:
        return None
    return ValueMatch(frozenset(normalise_code(v) for v in match.values), match.pattern)


def normalise_code(code: str) -> str:
    """A nomenclature code on 6 digits (`0101010` -> `101010`)."""
    return code[1:] if len(code) == 7 and code.startswith("0") else code
