"""Fixtures shared by every test folder: the official reference data and a running simulator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MYCARENET_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """`../shared/reference`; skipped when absent, mandatory when MYCARENET_REQUIRE_SHARED=1."""
    reference = SHARED / "reference"
    if not reference.is_dir():
        if os.environ.get("MYCARENET_REQUIRE_SHARED") == "1":
            pytest.fail(f"{reference} is required (MYCARENET_REQUIRE_SHARED=1) but missing")
        pytest.skip(f"{reference} not present")
    return reference
