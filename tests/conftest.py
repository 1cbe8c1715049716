"""Shared fixtures."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contract


@pytest.fixture
def check_exchange() -> Callable[[httpx.Request, httpx.Response | None], None]:
    """Validate a request (and its response, when given) against the published spec."""

    def check(request: httpx.Request, response: httpx.Response | None = None) -> None:
        contract.check_request(request)
        if response is not None:
            contract.check_response(request, response)

    return check
