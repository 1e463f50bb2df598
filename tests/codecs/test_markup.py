"""Markup writer: the same tree as lxml would build, and client text can never become markup."""

from __future__ import annotations

import pytest
from lxml import etree

from simulator.codecs import markup
from simulator.codecs.markup import Markup

A = "urn:test:a"
B = "urn:test:b"
NSMAP = {"a": A, "b": B}


def test_same_serialization_as_an_lxml_built_tree() -> None:
    doc = Markup(NSMAP)
    with doc.element(A, "root", markup.attributes({"Id": "r1", "L": "fr"})):
        doc.leaf(B, "code", "101032", markup.attributes({"S": "CD-NIHDI", "SV": "1.0"}))
        with doc.element(B, "empty"):
            pass
        doc.leaf(A, "none", None)

    root = etree.Element(f"{{{A}}}root", nsmap=NSMAP)
    root.set("Id", "r1")
    root.set("L", "fr")
    code = etree.SubElement(root, f"{{{B}}}code", {"S": "CD-NIHDI", "SV": "1.0"})
    code.text = "101032"
    etree.SubElement(root, f"{{{B}}}empty")
    etree.SubElement(root, f"{{{A}}}none")

    assert etree.tostring(doc.to_element()) == etree.tostring(root)


@pytest.mark.parametrize(
    "value",
    ["</b:code><a:injected/>", "a & b < c > d", "quote \" and apos '", "cr\r lf\n tab\t", "é ü 漢"],
)
def test_text_and_attribute_values_round_trip_unchanged(value: str) -> None:
    doc = Markup(NSMAP)
    with doc.element(A, "root", markup.attributes({"value": value})):
        doc.leaf(B, "text", value)
    root = doc.to_element()
    assert root.get("value") == value
    assert [child.text for child in root] == [value]  # one child: nothing was injected


def test_namespace_outside_the_nsmap_is_refused() -> None:
    doc = Markup(NSMAP)
    with pytest.raises(ValueError, match="urn:test:other"):
        doc.leaf("urn:test:other", "x", "1")


def test_unclosed_or_empty_markup_is_refused() -> None:
    with pytest.raises(ValueError, match="incomplete"):
        Markup(NSMAP).to_element()
    doc = Markup(NSMAP)
    doc.element(A, "root")  # never closed
    with pytest.raises(ValueError, match="unclosed"):
        doc.to_element()


def test_a_fragment_inserted_raw_equals_writing_it_in_place() -> None:
    fragment = Markup(NSMAP, fragment=True)
    fragment.leaf(B, "code", "x & y")
    direct, reused = Markup(NSMAP), Markup(NSMAP)
    with direct.element(A, "root"):
        direct.leaf(B, "code", "x & y")
    with reused.element(A, "root"):
        reused.raw(fragment.text())
    assert etree.tostring(reused.to_element()) == etree.tostring(direct.to_element())
    with pytest.raises(ValueError, match="fragment"):
        fragment.to_element()
