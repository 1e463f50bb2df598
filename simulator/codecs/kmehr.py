"""KMEHR building blocks: `id`/`cd` elements with their S/SV attributes, hcparty, cost.

The messageservices wrappers (RetrieveTransactionRequest/Response) put their own local elements
in the messageservices *core* namespace while the KMEHR types they reuse (hcparty, item,
content, folder...) keep the KMEHR namespace, so every builder takes the namespace of the element
it creates. Readers match on local names: the simulator tolerates clients that get the
namespaces of the wrapper wrong, and the domain rules report the missing values.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from decimal import Decimal

from lxml import etree

from simulator.codecs import markup
from simulator.codecs.markup import Markup

KMEHR = "http://www.ehealth.fgov.be/standards/kmehr/schema/v1"
MS_PROTOCOL = "http://www.ehealth.fgov.be/messageservices/protocol/v1"
MS_CORE = "http://www.ehealth.fgov.be/messageservices/core/v1"
NSMAP = {"ms": MS_PROTOCOL, "core": MS_CORE, "kmehr": KMEHR}

# Scheme versions we emit. The 1.19 schema types SV as a free string, so these are the values
# the KMEHR code tables publish, not constraints the XSD would catch.
SCHEME_VERSIONS: dict[str, str] = {
    "ID-KMEHR": "1.0",
    "ID-HCPARTY": "1.0",
    "ID-PATIENT": "1.0",
    "ID-INSURANCE": "1.0",
    "INSS": "1.0",
    "LOCAL": "1.0",
    "CD-HCPARTY": "1.1",
    "CD-ITEM": "1.11",
    "CD-ITEM-MYCARENET": "1.0",
    "CD-TRANSACTION-MYCARENET": "1.1",
    "CD-NIHDI": "1.0",
    "CD-ISO-3950": "1.0",
    "CD-NIHDI-RELATEDSERVICE": "1.0",
    "CD-MYCARENET-JUSTIFICATION": "1.0",
    "CD-ERROR": "1.0",
    "CD-CURRENCY": "1.0",
    "CD-SEX": "1.1",
    "CD-STANDARD": "1.19",
}
# The KMEHR message standard version matching kmehr-1_19 (the last value CD-STANDARD 1.19 lists).
KMEHR_STANDARD = "20161201"
_CENT = Decimal("0.01")


def sv(scheme: str) -> str:
    return SCHEME_VERSIONS.get(scheme, "1.0")


def sub(parent: etree._Element, ns: str, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        element.text = text
    return element


def add_id(parent: etree._Element, scheme: str, value: str, *, ns: str = KMEHR) -> etree._Element:
    """`<id S=scheme SV=..>value</id>`."""
    return _coded_element(parent, f"{{{ns}}}id", scheme, value)


def add_cd(parent: etree._Element, scheme: str, value: str, *, ns: str = KMEHR) -> etree._Element:
    """`<cd S=scheme SV=..>value</cd>`."""
    return _coded_element(parent, f"{{{ns}}}cd", scheme, value)


def _coded_element(parent: etree._Element, tag: str, scheme: str, value: str) -> etree._Element:
    # Attributes given at creation: one lxml call instead of three (a response has ~40 of these).
    element = etree.SubElement(parent, tag, {"S": scheme, "SV": sv(scheme)})
    element.text = value
    return element


def add_hcparty(
    parent: etree._Element,
    *,
    ids: list[tuple[str, str]],
    kind: str,
    name: str | None = None,
) -> etree._Element:
    """A KMEHR `hcparty`: ids (scheme, value), its CD-HCPARTY type, an optional name."""
    hcparty = sub(parent, KMEHR, "hcparty")
    for scheme, value in ids:
        add_id(hcparty, scheme, value)
    add_cd(hcparty, "CD-HCPARTY", kind)
    if name is not None:
        sub(hcparty, KMEHR, "name", name)
    return hcparty


def add_item(
    parent: etree._Element, number: int, scheme: str, kind: str, *, ns: str
) -> etree._Element:
    """An `item` with its ID-KMEHR sequence number and its type code; children are KMEHR."""
    item = sub(parent, ns, "item")
    add_id(item, "ID-KMEHR", str(number))
    add_cd(item, scheme, kind)
    return item


def add_cost(item: etree._Element, amount: Decimal) -> etree._Element:
    """`cost/decimal` + `cost/unit/cd S=CD-CURRENCY` EUR, amounts with two decimals."""
    cost = sub(item, KMEHR, "cost")
    sub(cost, KMEHR, "decimal", f"{amount.quantize(Decimal('0.01'))}")
    add_cd(sub(cost, KMEHR, "unit"), "CD-CURRENCY", "EUR")
    return cost


# -- writing as markup (simulator.codecs.markup): the same blocks, for large answers -------


@functools.lru_cache(maxsize=256)
def _scheme_attributes(scheme: str) -> str:
    # S/SV of a scheme, rendered once: a priced answer writes about 30 of them.
    return markup.attributes({"S": scheme, "SV": sv(scheme)})


def write_id(doc: Markup, scheme: str, value: str, *, ns: str = KMEHR) -> None:
    doc.leaf(ns, "id", value, _scheme_attributes(scheme))


def write_cd(doc: Markup, scheme: str, value: str, *, ns: str = KMEHR) -> None:
    doc.leaf(ns, "cd", value, _scheme_attributes(scheme))


def write_hcparty(doc: Markup, *, ids: list[tuple[str, str]], kind: str) -> None:
    with doc.element(KMEHR, "hcparty"):
        for scheme, value in ids:
            write_id(doc, scheme, value)
        write_cd(doc, "CD-HCPARTY", kind)


def write_item(doc: Markup, number: int, scheme: str, kind: str, *, ns: str) -> Markup:
    """Open an item with its sequence number and type: `with write_item(...):` its content."""
    item = doc.element(ns, "item")
    write_id(doc, "ID-KMEHR", str(number))
    write_cd(doc, scheme, kind)
    return item


def write_cost(doc: Markup, amount: Decimal) -> None:
    with doc.element(KMEHR, "cost"):
        doc.leaf(KMEHR, "decimal", f"{amount.quantize(_CENT)}")
        doc.raw(_euro_unit())


@functools.lru_cache(maxsize=1)
def _euro_unit() -> str:
    # Rendered once: every priced line repeats it three times.
    fragment = Markup(NSMAP, fragment=True)
    with fragment.element(KMEHR, "unit"):
        write_cd(fragment, "CD-CURRENCY", "EUR")
    return fragment.text()


# -- reading ------------------------------------------------------------------------------


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def namespace(element: etree._Element) -> str | None:
    return etree.QName(element).namespace


def children(element: etree._Element | None, name: str) -> Iterator[etree._Element]:
    """Child elements with this local name, whatever their namespace (or none)."""
    if element is None:
        return iter(())
    # "{*}name" matches any namespace and no namespace; lxml filters in C, which is several
    # times faster than comparing QName(child).localname in Python for every child.
    return element.iterchildren(f"{{*}}{name}")


def child(element: etree._Element | None, *path: str) -> etree._Element | None:
    """The first element down `path` (local names), or None."""
    current = element
    for name in path:
        current = next(children(current, name), None)
        if current is None:
            return None
    return current


def text_of(element: etree._Element | None) -> str | None:
    """Stripped text, None when the element is absent or empty."""
    if element is None or element.text is None:
        return None
    value = element.text.strip()
    return value or None


def coded(element: etree._Element | None, tag: str, *schemes: str) -> str | None:
    """Text of the first `tag` child (id or cd) whose S is one of `schemes`."""
    for candidate in children(element, tag):
        if candidate.get("S") in schemes:
            return text_of(candidate)
    return None


def item_kind(item: etree._Element) -> str | None:
    """The item's type: its cd S=CD-ITEM or CD-ITEM-MYCARENET."""
    return coded(item, "cd", "CD-ITEM", "CD-ITEM-MYCARENET")
