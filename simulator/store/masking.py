"""Secrets out of the journal: the licence password (CommonInput/Origin/Package/License) and
any other `Password` element, whatever its prefix, are replaced by `***` before a row is
written. A body cut at the journal's size limit inside a Password element is masked too.
"""

from __future__ import annotations

import re

MASK = "***"

# <Password>, <ns:Password attr="..">, </ns:Password>; also <Pwd> and <ns:password>.
_ELEMENT = re.compile(
    r"(<(?P<tag>(?:[\w.-]+:)?(?:[Pp]assword|[Pp]wd))(?:\s[^>]*)?>)"  # opening tag
    r"(?P<secret>(?:[^<]|<!\[CDATA\[.*?\]\]>)*)"
    r"(?=</(?P=tag)\s*>|$)",
    re.DOTALL,
)


# What every opening tag above contains, looked for first (plain substring searches, fast):
# the expression costs ~60 µs on a 12 KB body, and "wd" alone is in nearly every base64 text.
_MARKERS = ("assword", "Pwd", "pwd")


def mask_secrets(text: str) -> str:
    """`text` with the content of every Password element replaced by `***`."""
    if not any(marker in text for marker in _MARKERS):
        return text
    return _ELEMENT.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    return match.group(1) + (MASK if match.group("secret") else "")
