"""KMEHR building blocks: `id`/`cd` elements with their S/SV attributes, hcparty, cost.

The messageservices wrappers (RetrieveTransactionRequest/Response) put their own local elements
in the messageservices *core* namespace while the KMEHR types they reuse (hcparty, item,
content, folder...) keep the KMEHR namespace, so every builder takes the namespace of the element
it creates. Readers match on local names: the simulator tolerates clients that get the
namespaces of the wrapper wrong, and the domain rules report the missing values.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from lxml import etree

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


def sv(scheme: str) -> str:
    return SCHEME_VERSIONS.get(scheme, "1.0")


def sub(parent: etree._Element, ns: str, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        element.text = text
    return element


def add_id(parent: etree._Element, scheme: str, value: str, *, ns: str = KMEHR) -> etree._Element:
    """`<id S=scheme SV=..>value</id>`."""
    element = sub(parent, ns, "id", value)
    element.set("S", scheme)
    element.set("SV", sv(scheme))
    return element


def add_cd(parent: etree._Element, scheme: str, value: str, *, ns: str = KMEHR) -> etree._Element:
    """`<cd S=scheme SV=..>value</cd>`."""
    element = sub(parent, ns, "cd", value)
    element.set("S", scheme)
    element.set("SV", sv(scheme))
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


# -- reading ------------------------------------------------------------------------------


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def namespace(element: etree._Element) -> str | None:
    return etree.QName(element).namespace


def children(element: etree._Element | None, name: str) -> Iterator[etree._Element]:
    """Child elements with this local name, whatever their namespace."""
    if element is None:
        return
    for child in element:
        if isinstance(child.tag, str) and local_name(child) == name:
            yield child


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
