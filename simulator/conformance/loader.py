"""Suite files (YAML) -> Suite, with errors that name their line (`FILE:LINE: message`).

Like the scenario loader, the file is composed into nodes so every value keeps its line, and
problems are collected case by case so one check reports them all. The shape is also described
by `schemas/suite.schema.json` (for editors); this loader is what the harness trusts.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from simulator.conformance.model import (
    EXPECTATION_KINDS,
    OUTCOMES,
    PATIENT_SCOPES,
    PROVIDER_KINDS,
    AtMostPerDay,
    Before,
    Case,
    Check,
    Content,
    EfactZone,
    Expectation,
    FollowedBy,
    NoneAfter,
    PatientPick,
    ProviderPick,
    Requests,
    Select,
    Suite,
    ValidRequests,
)
from simulator.domain.population import SITUATIONS
from simulator.scenarios.loader import ScenarioError, load_scenario
from simulator.scenarios.nodes import (
    FileProblems,
    Invalid,
    Problem,
    identifier,
    instant,
    integer,
    line_of,
    mapping,
    sequence,
    suggest,
    text,
)

SCOPES = ("envelope", "content")


class SuiteError(FileProblems):
    """A suite file that cannot be used; `problems` lists every error found, by line."""


def load_suite_file(path: Path) -> Suite:
    try:
        source_text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(str(path), [Problem(1, f"cannot read the file: {exc}")]) from exc
    return load_suite(source_text, source=str(path))


def load_suite(source_text: str, *, source: str = "<suite>") -> Suite:
    """Build a Suite from YAML text, or raise SuiteError listing every problem found."""
    try:
        root = yaml.compose(source_text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise SuiteError(source, [Problem(line, f"not valid YAML: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise SuiteError(source, [Problem(1, f"not valid YAML: {exc}")]) from exc
    if root is None:
        raise SuiteError(source, [Problem(1, "the file is empty; expected a suite")])
    builder = _Builder()
    suite = builder.suite(root, source)
    if builder.problems or suite is None:
        raise SuiteError(source, builder.problems)
    return suite


class _Builder:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def suite(self, root: Node, source: str) -> Suite | None:
        try:
            fields = mapping(
                root,
                "the suite",
                required=("suite", "title", "at", "cases"),
                allowed=("suite", "title", "description", "at", "scenario", "seed", "cases"),
            )
            suite_id = identifier(fields["suite"], "suite")
            title = text(fields["title"], "title")
            at = instant(fields["at"], "at")
        except Invalid as exc:
            self.problems.append(exc.problem)
            return None
        description = self._optional(fields, "description", text) or ""
        seed = self._optional(fields, "seed", lambda n, w: integer(n, w, minimum=0))
        scenario = self._scenario(fields["scenario"]) if "scenario" in fields else None
        cases: list[Case] = []
        seen: dict[str, int] = {}
        try:
            items = sequence(fields["cases"], "cases")
        except Invalid as exc:
            self.problems.append(exc.problem)
            items = []
        for item in items:
            try:
                case = self.case(item)
            except Invalid as exc:
                self.problems.append(exc.problem)
                continue
            if case.id in seen:
                where = seen[case.id]
                message = f"case id {case.id!r} is already used on line {where}"
                self.problems.append(Problem(line_of(item), message))
                continue
            seen[case.id] = line_of(item)
            cases.append(case)
        if not items and not self.problems:
            self.problems.append(Problem(line_of(fields["cases"]), "the suite has no cases"))
        return Suite(suite_id, title, description, at, tuple(cases), scenario, seed, source)

    def _optional(self, fields: dict[str, Node], key: str, read: Any) -> Any:
        if key not in fields:
            return None
        try:
            return read(fields[key], key)
        except Invalid as exc:
            self.problems.append(exc.problem)
            return None

    def _scenario(self, node: Node) -> str | None:
        """A shipped scenario's name, or an inline scenario kept as YAML text (checked here)."""
        if isinstance(node, ScalarNode):
            return text(node, "scenario")
        body = yaml.serialize(node)
        try:
            load_scenario(body, source="scenario", default_name="inline")
        except ScenarioError as exc:
            offset = line_of(node) - 1
            self.problems.extend(
                Problem(p.line + offset, f"scenario: {p.message}") for p in exc.problems
            )
            return None
        return body

    # --- cases -----------------------------------------------------------------------------

    def case(self, node: Node) -> Case:
        fields = mapping(
            node,
            "a case",
            required=("id", "title", "action", "patient", "instructions", "expect"),
            allowed=(
                "id", "title", "action", "patient", "provider", "at", "params", "instructions",
                "scenario", "tags", "expect",
            ),
        )  # fmt: skip
        case_id = identifier(fields["id"], "id")
        checks: list[Check] = []
        for item in sequence(fields["expect"], "expect"):
            try:
                checks.append(self.check(item))
            except Invalid as exc:
                self.problems.append(exc.problem)
        if not checks:
            raise Invalid(fields["expect"], f"case {case_id!r} expects nothing")
        at: datetime | None = instant(fields["at"], "at") if "at" in fields else None
        scenario = self._scenario(fields["scenario"]) if "scenario" in fields else None
        tags = (
            tuple(text(t, "tags") for t in sequence(fields["tags"], "tags"))
            if ("tags" in fields)
            else ()
        )
        params = _plain(fields["params"]) if "params" in fields else {}
        if not isinstance(params, dict):
            raise Invalid(fields["params"], "`params` must be a mapping")
        return Case(
            id=case_id,
            title=text(fields["title"], "title"),
            instructions=text(fields["instructions"], "instructions").strip(),
            action=identifier(fields["action"], "action"),
            patient=_patient(fields["patient"]),
            provider=_provider(fields["provider"]) if "provider" in fields else ProviderPick(),
            checks=tuple(checks),
            at=at,
            params=params,
            scenario=scenario,
            tags=tags,
        )

    def check(self, node: Node) -> Check:
        if not isinstance(node, MappingNode):
            raise Invalid(node, "an expectation must be a mapping: `says: ...` and one kind")
        kinds = [k for k, _ in node.value if str(k.value) != "says"]
        names = [str(k.value) for k in kinds]
        for key_node, name in zip(kinds, names, strict=True):
            if name not in EXPECTATION_KINDS:
                raise Invalid(
                    key_node,
                    f"unknown expectation {name!r}{suggest(name, EXPECTATION_KINDS)}; "
                    f"known: {', '.join(EXPECTATION_KINDS)}",
                )
        if len(kinds) != 1:
            raise Invalid(node, f"an expectation has exactly one kind, got {names or 'none'}")
        fields = mapping(node, "an expectation", required=(), allowed=("says", names[0]))
        expectation = _expectation(names[0], fields[names[0]])
        says = text(fields["says"], "says") if "says" in fields else _default_says(expectation)
        return Check(says=says, expectation=expectation, line=line_of(node))


def _patient(node: Node) -> PatientPick:
    fields = mapping(node, "`patient`", required=(), allowed=("situation", "unknown"))
    if "unknown" in fields:
        return PatientPick(unknown=text(fields["unknown"], "unknown") == "true")
    if "situation" not in fields:
        raise Invalid(node, "`patient` needs a `situation` or `unknown: true`")
    situation = text(fields["situation"], "situation")
    if situation not in SITUATIONS:
        raise Invalid(
            fields["situation"],
            f"no situation {situation!r} in the population{suggest(situation, SITUATIONS)}",
        )
    return PatientPick(situation=situation)


def _provider(node: Node) -> ProviderPick:
    fields = mapping(node, "`provider`", required=(), allowed=("kind", "index", "dmg-holder"))
    if "dmg-holder" in fields:
        return ProviderPick(dmg_holder=text(fields["dmg-holder"], "dmg-holder") == "true")
    if "kind" not in fields:
        raise Invalid(node, "`provider` needs a `kind` (or `dmg-holder: true`)")
    kind = text(fields["kind"], "kind")
    if kind not in PROVIDER_KINDS:
        raise Invalid(fields["kind"], f"`kind` must be one of {', '.join(PROVIDER_KINDS)}")
    index = integer(fields["index"], "index", minimum=0) if "index" in fields else 0
    return ProviderPick(kind, index)


_SELECT_KEYS = ("service", "operation", "patient", "outcome", "code", "codes", "response-has")


def _select(node: Node, what: str, extra: tuple[str, ...] = ()) -> tuple[Select, dict[str, Node]]:
    fields = mapping(node, what, required=(), allowed=_SELECT_KEYS + extra)
    patient = text(fields["patient"], "patient") if "patient" in fields else "case"
    if patient not in PATIENT_SCOPES:
        raise Invalid(fields["patient"], f"`patient` must be one of {', '.join(PATIENT_SCOPES)}")
    outcome = text(fields["outcome"], "outcome") if "outcome" in fields else None
    if outcome is not None and outcome not in OUTCOMES:
        raise Invalid(fields["outcome"], f"`outcome` must be one of {', '.join(OUTCOMES)}")
    codes: tuple[str, ...] = ()
    if "code" in fields:
        codes = (text(fields["code"], "code"),)
    elif "codes" in fields:
        codes = tuple(text(c, "codes") for c in sequence(fields["codes"], "codes"))
    select = Select(
        service=text(fields["service"], "service") if "service" in fields else None,
        operation=text(fields["operation"], "operation") if "operation" in fields else None,
        patient=patient,
        outcome=outcome,
        codes=codes,
        response_xpath=_xpath(fields["response-has"]) if "response-has" in fields else None,
    )
    return select, fields


def _xpath(node: Node) -> str:
    from simulator.conformance.journal_view import check_xpath

    value = text(node, "xpath")
    problem = check_xpath(value)
    if problem:
        raise Invalid(node, f"XPath {value!r}: {problem}")
    return value


def _expectation(kind: str, node: Node) -> Expectation:
    what = f"`{kind}`"
    if kind == "valid-requests":
        if isinstance(node, MappingNode) and node.value:
            raise Invalid(node, "`valid-requests` takes no options: write `valid-requests: {}`")
        return ValidRequests()
    if kind == "requests":
        select, fields = _select(node, what, ("min", "max"))
        minimum = integer(fields["min"], "min", minimum=0) if "min" in fields else 1
        maximum = integer(fields["max"], "max", minimum=0) if "max" in fields else None
        if maximum is not None and maximum < minimum:
            raise Invalid(node, f"`max` ({maximum}) is below `min` ({minimum})")
        return Requests(select, minimum, maximum)
    if kind in ("before", "followed-by"):
        fields = mapping(node, what, required=("first", "then"), allowed=("first", "then"))
        first, _ = _select(fields["first"], "`first`")
        then, _ = _select(fields["then"], "`then`")
        return Before(first, then) if kind == "before" else FollowedBy(first, then)
    if kind == "none-after":
        fields = mapping(node, what, required=("trigger", "then"), allowed=("trigger", "then"))
        trigger, _ = _select(fields["trigger"], "`trigger`")
        then, _ = _select(fields["then"], "`then`")
        return NoneAfter(trigger, then)
    if kind == "content":
        select, fields = _select(node, what, ("xpath", "in", "equals", "absent", "all"))
        if "xpath" not in fields:
            raise Invalid(node, "`content` needs an `xpath`")
        scope = text(fields["in"], "in") if "in" in fields else "content"
        if scope not in SCOPES:
            raise Invalid(fields["in"], f"`in` must be one of {', '.join(SCOPES)}")
        return Content(
            select,
            _xpath(fields["xpath"]),
            scope,
            equals=text(fields["equals"], "equals") if "equals" in fields else None,
            exists=not ("absent" in fields and text(fields["absent"], "absent") == "true"),
            all_entries="all" in fields and text(fields["all"], "all") == "true",
        )
    if kind == "efact-zone":
        fields = mapping(
            node, what, required=("record", "zone"),
            allowed=("record", "zone", "equals", "differs-between-posts", "within-months"),
        )  # fmt: skip
        return EfactZone(
            record=text(fields["record"], "record"),
            zone=text(fields["zone"], "zone"),
            equals=text(fields["equals"], "equals") if "equals" in fields else None,
            differs_between_posts="differs-between-posts" in fields
            and text(fields["differs-between-posts"], "differs-between-posts") == "true",
            within_months=integer(fields["within-months"], "within-months", minimum=0)
            if "within-months" in fields
            else None,
        )
    select, fields = _select(node, what, ("max",))
    maximum = integer(fields["max"], "max", minimum=0) if "max" in fields else 1
    return AtMostPerDay(select, maximum)


def _default_says(expectation: Expectation) -> str:
    if isinstance(expectation, ValidRequests):
        return "every request is well-formed, schema-valid and correctly signed"
    if isinstance(expectation, Requests):
        if expectation.maximum == 0:
            return f"no {expectation.select.describe()}"
        bounds = f"at least {expectation.minimum}"
        if expectation.maximum is not None:
            bounds = (
                f"exactly {expectation.minimum}"
                if expectation.maximum == expectation.minimum
                else f"{expectation.minimum} to {expectation.maximum}"
            )
        return f"{bounds} {expectation.select.describe()}"
    if isinstance(expectation, Before):
        return f"{expectation.first.describe()} before {expectation.then.describe()}"
    if isinstance(expectation, FollowedBy):
        return f"{expectation.first.describe()} followed by {expectation.then.describe()}"
    if isinstance(expectation, NoneAfter):
        return f"no {expectation.then.describe()} after {expectation.trigger.describe()}"
    if isinstance(expectation, Content):
        return f"{expectation.select.describe()}: {expectation.xpath}"
    if isinstance(expectation, EfactZone):
        return f"eFact record {expectation.record} zone {expectation.zone}"
    return f"at most {expectation.maximum} {expectation.select.describe()} a day"


def _plain(node: Node) -> Any:
    """Params as JSON-ready data; scalars stay the text written (codes keep leading zeros)."""
    if isinstance(node, MappingNode):
        return {str(k.value): _plain(v) for k, v in node.value}
    if isinstance(node, SequenceNode):
        return [_plain(v) for v in node.value]
    if node.tag.endswith(":bool"):
        return str(node.value).lower() == "true"
    if node.tag.endswith(":null"):
        return None
    return str(node.value)
