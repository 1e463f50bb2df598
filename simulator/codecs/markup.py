"""Build a large namespaced tree by writing its markup and parsing it once.

lxml spends about 2 µs creating each namespaced element (tag parsing, namespace search, proxy
object); a priced eTar answer has about 80 of them. Appending escaped markup to a list and
parsing the result once costs a fraction of that and yields the same tree.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import TracebackType

from lxml import etree

from simulator.soap.parser import parse_xml

# `\r` and, in attributes, `\t` `\n` would be normalised away by the parser: keep them as
# character references, the way lxml serialises them.
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


def attributes(values: Mapping[str, str]) -> str:
    """Rendered (escaped) unqualified attributes, for `start` and `leaf`; cacheable."""
    return "".join(
        f' {name}="{value.translate(_ATTRIBUTE_ESCAPES)}"' for name, value in values.items()
    )


def escape_text(text: str) -> str:
    # Most values (codes, dates, amounts) need no escaping: test before translating.
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        return text.translate(_TEXT_ESCAPES)
    return text


class Markup:
    """An element tree written as text; every namespace used must be in `nsmap`.

    The root element declares all of `nsmap` (as `etree.Element(..., nsmap=nsmap)` would), so
    descendants use those prefixes. `with doc.element(ns, tag):` writes that element's
    children inside the block; `leaf` writes an element with text only.
    """

    def __init__(self, nsmap: Mapping[str, str], *, fragment: bool = False) -> None:
        """`fragment`: markup to `raw`-insert into a document over the same nsmap, later."""
        self._vocabulary = _vocabulary(tuple(nsmap.items()))
        self._fragment = fragment
        self._parts: list[str] = []
        self._open: list[str] = []

    def element(self, ns: str, tag: str, rendered_attributes: str = "") -> Markup:
        """Open an element; the `with` block that uses the returned value closes it."""
        name = self._vocabulary.name(ns, tag)
        declarations = "" if self._parts or self._fragment else self._vocabulary.declarations
        self._parts.append(f"<{name}{declarations}{rendered_attributes}>")
        self._open.append(name)
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._parts.append(f"</{self._open.pop()}>")

    def leaf(self, ns: str, tag: str, text: str | None, rendered_attributes: str = "") -> None:
        """An element with only text (or nothing, for None)."""
        name = self._vocabulary.name(ns, tag)
        if text is None:
            self._parts.append(f"<{name}{rendered_attributes}/>")
        else:
            self._parts.append(f"<{name}{rendered_attributes}>{escape_text(text)}</{name}>")

    def raw(self, fragment: str) -> None:
        """Insert the `text()` of a fragment Markup (rendered once, reused many times)."""
        self._parts.append(fragment)

    def text(self) -> str:
        if self._open:
            raise ValueError(f"incomplete markup: unclosed {self._open}")
        return "".join(self._parts)

    def to_element(self) -> etree._Element:
        if self._fragment or not self._parts:
            raise ValueError("incomplete markup: no root element (or a fragment)")
        return parse_xml(self.text().encode("utf-8"))


class _Vocabulary:
    """Prefixed names and root declarations of one nsmap, shared by every document using it."""

    def __init__(self, nsmap: tuple[tuple[str, str], ...]) -> None:
        self._prefixes = {uri: prefix for prefix, uri in nsmap}
        self.declarations = "".join(
            f' xmlns:{prefix}="{uri.translate(_ATTRIBUTE_ESCAPES)}"' for prefix, uri in nsmap
        )
        self._names: dict[tuple[str, str], str] = {}

    def name(self, ns: str, tag: str) -> str:
        name = self._names.get((ns, tag))
        if name is None:
            prefix = self._prefixes.get(ns)
            if prefix is None:
                raise ValueError(f"namespace {ns!r} of <{tag}> is not in this document's nsmap")
            name = self._names[ns, tag] = f"{prefix}:{tag}"
        return name


@functools.lru_cache(maxsize=16)
def _vocabulary(nsmap: tuple[tuple[str, str], ...]) -> _Vocabulary:
    return _Vocabulary(nsmap)
