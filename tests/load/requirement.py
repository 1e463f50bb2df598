"""The load tests need locust ([load]): skipped without it, unless MYCARENET_REQUIRE_LOAD is
set (as .ci/run does), where its absence is a failure."""

from __future__ import annotations

import importlib.util
import os

import pytest


def require_locust() -> None:
    if importlib.util.find_spec("locust") is not None:
        return
    if os.environ.get("MYCARENET_REQUIRE_LOAD"):
        pytest.fail("locust is required (MYCARENET_REQUIRE_LOAD is set): pip install -e '.[load]'")
    pytest.skip("locust is not installed (pip install -e '.[load]')", allow_module_level=True)
