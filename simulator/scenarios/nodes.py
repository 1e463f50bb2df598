"""Reading composed YAML nodes, with errors that carry the line of the node they are about.

Scalars are read from their source text, not their YAML type, so identifiers such as 0101010
stay what they look like instead of becoming (octal) numbers.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from simulator.clock import BRUSSELS

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based
    message: str


class FileProblems(ValueError):
    """A file that cannot be used; `problems` lists every error found, by line."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = tuple(sorted(problems, key=lambda p: p.line))
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """`FILE:LINE: message`, the way compilers report, so editors can jump to it."""
        return [f"{self.source}:{p.line}: {p.message}" for p in self.problems]


class Invalid(Exception):
    """One problem in a node; the loader collects them into a ScenarioError."""

    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(line_of(node), message)


_SCALARS = SafeConstructor()


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def key_of(node: Node) -> str:
    return str(node.value) if isinstance(node, ScalarNode) else ""


def mapping(
    node: Node, what: str, *, required: tuple[str, ...], allowed: tuple[str, ...] | None
) -> dict[str, Node]:
    """Keys -> value nodes; unknown, duplicate and missing keys are errors on their line."""
    if not isinstance(node, MappingNode):
        raise Invalid(node, f"{what} must be a mapping (key: value)")
    fields: dict[str, Node] = {}
    for key_node, value_node in node.value:
        key = key_of(key_node)
        if allowed is not None and key not in allowed:
            raise Invalid(
                key_node,
                f"unknown key {key!r} in {what}{suggest(key, allowed)}; "
                f"allowed: {', '.join(allowed)}",
            )
        if key in fields:
            raise Invalid(key_node, f"key {key!r} appears twice in {what}")
        fields[key] = value_node
    for key in required:
        if key not in fields:
            raise Invalid(node, f"{what} has no `{key}`")
    return fields


def collect_mapping(
    node: Node,
    what: str,
    *,
    required: tuple[str, ...],
    allowed: tuple[str, ...],
    problems: list[Problem],
) -> dict[str, Node]:
    """`mapping` that records every unknown, duplicate and missing key in `problems` and
    returns the usable keys, so that a reader can go on and find the next mistakes too."""
    if not isinstance(node, MappingNode):
        raise Invalid(node, f"{what} must be a mapping (key: value)")
    fields: dict[str, Node] = {}
    misspelt: set[str] = set()  # keys an unknown key was probably meant to be
    for key_node, value_node in node.value:
        key = key_of(key_node)
        if key not in allowed:
            message = f"unknown key {key!r} in {what}{suggest(key, allowed)}; allowed: "
            problems.append(Problem(line_of(key_node), message + ", ".join(allowed)))
            misspelt.update(difflib.get_close_matches(key, allowed, n=1))
        elif key in fields:
            problems.append(Problem(line_of(key_node), f"key {key!r} appears twice in {what}"))
        else:
            fields[key] = value_node
    problems.extend(
        Problem(line_of(node), f"{what} has no `{key}`")
        for key in required
        if key not in fields and key not in misspelt  # the misspelling already says it
    )
    return fields


def sequence(node: Node, what: str) -> list[Node]:
    if not isinstance(node, SequenceNode):
        raise Invalid(node, f"`{what}` must be a list")
    return list(node.value)


def text(node: Node, what: str) -> str:
    # The source text, not the YAML type: identifiers such as 0101010 must not become numbers.
    if not isinstance(node, ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        raise Invalid(node, f"`{what}` must be a single value")
    return str(node.value)


def identifier(node: Node, what: str) -> str:
    value = text(node, what)
    if not _ID.fullmatch(value):
        raise Invalid(node, f"`{what}` {value!r} must be letters, digits, '-', '_' or '.'")
    return value


def number(node: Node, what: str, *, minimum: float | None = None) -> float:
    value = float(_scalar(node, what, ("int", "float"), "a number"))
    if minimum is not None and value < minimum:
        raise Invalid(node, f"`{what}` must be at least {minimum:g}, got {value:g}")
    return value


def integer(
    node: Node, what: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = int(_scalar(node, what, ("int",), "a whole number"))
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise Invalid(node, f"`{what}` must be {bounds}, got {value}")
    return value


def _scalar(node: Node, what: str, tags: tuple[str, ...], kind: str) -> int | float:
    if not isinstance(node, ScalarNode) or node.tag.rsplit(":", 1)[-1] not in tags:
        raise Invalid(node, f"`{what}` must be {kind}, got {_show(node)}")
    if node.tag.endswith(":int"):
        return int(_SCALARS.construct_yaml_int(node))
    return float(_SCALARS.construct_yaml_float(node))


def instant(node: Node, what: str) -> datetime:
    value = text(node, what)
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(
            node, f"`{what}` must be an ISO date-time like 2025-11-01T00:00:00+01:00, got {value!r}"
        ) from None
    # Business dates are Belgian: a time without an offset is Brussels time.
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=BRUSSELS)


def _show(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return repr(node.value)
    return "a list" if isinstance(node, SequenceNode) else "a mapping"


def suggest(value: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
