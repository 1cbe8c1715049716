"""Shared fixtures."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contract
from fake_kie import FakeKie, Harness


@pytest.fixture
def anyio_backend() -> str:
    """``@pytest.mark.anyio`` tests run in one asyncio loop per test (the clients sleep with asyncio)."""
    return "asyncio"


@pytest.fixture
def check_exchange() -> Callable[[httpx.Request, httpx.Response | None], None]:
    """Validate a request (and its response, when given) against the published spec."""

    def check(request: httpx.Request, response: httpx.Response | None = None) -> None:
        contract.check_request(request)
        if response is not None:
            contract.check_response(request, response)

    return check


@pytest.fixture
def fake_kie() -> FakeKie:
    """A scripted kie.ai (see tests/fake_kie.py)."""
    return FakeKie()


@pytest.fixture(params=["sync", "async"])
def harness(request: pytest.FixtureRequest, fake_kie: FakeKie) -> Iterator[Harness]:
    """Every behaviour runs under both Client and AsyncClient against the scripted kie.ai."""
    h = Harness(request.param, fake_kie)
    yield h
    h.finish()


@pytest.fixture
def make_harness(request: pytest.FixtureRequest, fake_kie: FakeKie) -> Iterator[Callable[..., Harness]]:
    """Build a harness with client options, in the mode of the parametrized ``mode`` argument."""
    made: list[Harness] = []

    def make(mode: str, **options: object) -> Harness:
        h = Harness(mode, fake_kie, **options)
        made.append(h)
        return h

    yield make
    for h in made:
        h.finish()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """``sync`` or ``async``: tests building their own harness run under both clients."""
    return str(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``live`` talk to the real kie.ai: they run only when chosen with ``-m live``."""
    if "live" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="talks to the real kie.ai: run with KIE_API_KEY set and -m live")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A redis-server of our own on a free loopback port (Debian's package: scripts/system-deps)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip(
            "redis-server is not installed (apt-get install redis-server); the Redis store is untested"
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603 - our own argv, no shell
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="session")
def committed_mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, str]]:
    """Each typing case of ``COMMITTED_CASES`` (tests/test_model_options_typing.py, filled by any test
    module at import) → its ``mypy --strict`` errors against the committed tree: one mypy run for all."""
    from test_model_options_typing import COMMITTED_CASES, mypy_errors_many

    return mypy_errors_many(COMMITTED_CASES, tmp_path_factory.mktemp("mypy-cases"))
