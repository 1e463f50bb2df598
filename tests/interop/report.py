"""Step lines that interop tests hand to the terminal summary (see conftest.py)."""

from __future__ import annotations

REPORTS: list[tuple[str, list[str]]] = []
