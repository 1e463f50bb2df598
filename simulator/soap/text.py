"""The text of an element as canonicalisation and the real (Java DOM) stack read it.

lxml's `.text` stops at the first child node, comments included, while exclusive c14n
without comments (what every signature here covers) drops them: `<Value>123<!---->45</Value>`
is signed as "12345" but `.text` says "123", and `<Value><!---->12345</Value>` reads as None.
Reading identities that way let a caller keep a valid signature and change who it is. Every
value that identifies someone or something signed is read through `text_value`, which joins
the text nodes and ignores comments and processing instructions, like DOM getTextContent.
"""

from __future__ import annotations

from lxml import etree


def text_value(element: etree._Element | None) -> str | None:
    """All text content of `element` (descendants included, comments and PIs left out), or
    None for a missing element. An element without children costs one attribute read."""
    if element is None:
        return None
    if not len(element):
        return element.text if element.text is not None else ""
    # itertext yields str for a tree parsed from bytes; the stubs allow bytes too.
    return "".join(str(piece) for piece in element.itertext())


def find_text(parent: etree._Element, path: str) -> str | None:
    """`text_value` of `parent.find(path)`: the comment-proof `findtext`."""
    return text_value(parent.find(path))
