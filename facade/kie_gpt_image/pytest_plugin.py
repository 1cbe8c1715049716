"""pytest fixtures for testing code that calls kie.ai, against the offline emulator.

pytest loads this module through the ``pytest11`` entry point of the installed distribution (as
pytest-httpx and respx do); nothing else imports it, and ``-p no:kie_gpt_image`` turns it off. A test
of your own code is three lines:

    def test_restyle(kie_client, tmp_path):
        paths = kie_client.edit(["tests/photo.png"], "make it blue").save(tmp_path)
        assert paths[0].read_bytes().startswith(b"\\x89PNG")

Fixtures:

- ``kie_emulator``: a fresh `kie_gpt_image.emulator.Emulator` per test (closed afterwards).
- ``kie_client`` / ``kie_async_client``: a `kie_gpt_image.Client` / `kie_gpt_image.AsyncClient` wired
  to it in process (no sockets, no key). The async one is a plain fixture, so it works under anyio's
  pytest plugin, pytest-asyncio (strict or auto) and trio alike.
- ``kie_server``: the same emulator on loopback sockets (a
  `kie_gpt_image.emulator.EmulatorServer`), for code that builds its own client from a base URL.
- ``kie_emulator_options`` / ``kie_client_options``: dicts of extra keyword arguments for ``Emulator``
  and for both clients; override them in a ``conftest.py`` or parametrize them.

Every keyword argument of the ``kie_emulator`` marker goes to ``Emulator(...)`` unchanged (the marker
closest to the test wins), so every emulator option, present or future, is reachable:

    @pytest.mark.kie_emulator(credits=0, faults=FaultPlan().on("get-task-details", 1, Fault.http_error(502)))
    def test_out_of_credits(kie_client): ...

Unless a test passes its own ``schedule``, tasks finish at once (``Schedule.instant()``). Unless it
passes its own ``clock``, the emulator and the clients share a virtual clock: real time plus every
second the clients slept, and the clients' sleeps return at once. A task with a 10-minute ``Schedule``
is thus polled on kie.ai's real schedule (2 s, 5 s, 15 s steps) without the test waiting for it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.lowlevel
import pytest

if TYPE_CHECKING:
    from kie_gpt_image import AsyncClient, Client
    from kie_gpt_image.emulator import Emulator, EmulatorServer

__all__ = [
    "VirtualTime",
    "kie_async_client",
    "kie_client",
    "kie_client_options",
    "kie_emulator",
    "kie_emulator_options",
    "kie_server",
]

MARKER = "kie_emulator"
_MARKER_HELP = (
    f"{MARKER}(**options): keyword arguments for kie_gpt_image.emulator.Emulator used by the "
    "kie_emulator, kie_client, kie_async_client and kie_server fixtures"
)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so that ``--strict-markers`` accepts it."""
    config.addinivalue_line("markers", _MARKER_HELP)


class VirtualTime:
    """The clock the emulator and the fixture clients share: real time plus every second slept.

    ``sleep`` and ``asleep`` return at once after moving the clock forward, so polling and retry
    back-off run on their real schedules without the test waiting.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0

    @property
    def slept(self) -> float:
        """Seconds the clients have slept so far."""
        with self._lock:
            return self._offset

    def time(self) -> float:
        """Seconds since the epoch (the emulator's clock)."""
        return time.time() + self.slept

    def monotonic(self) -> float:
        """A monotonic reading (the clients' clock for deadlines)."""
        return time.monotonic() + self.slept

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` at once (the ``Client``'s sleep)."""
        with self._lock:
            self._offset += max(seconds, 0.0)

    async def asleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` and yield to the event loop once (the ``AsyncClient``'s sleep).

        ``anyio.lowlevel.checkpoint`` works under asyncio and trio alike (anyio ships with httpx).
        """
        self.sleep(seconds)
        await anyio.lowlevel.checkpoint()


def _marker_options(node: pytest.Item) -> dict[str, Any]:
    options: dict[str, Any] = {}
    # iter_markers yields the closest marker first (function, then class, then module): apply it last.
    for marker in reversed(list(node.iter_markers(MARKER))):
        if marker.args:
            raise TypeError(
                f"@pytest.mark.{MARKER} takes keyword arguments only (for Emulator), got {marker.args!r}"
            )
        options.update(marker.kwargs)
    return options


@pytest.fixture
def kie_emulator_options() -> dict[str, Any]:
    """Keyword arguments for ``Emulator`` under every ``kie_emulator`` marker (default: none).

    Override it in a ``conftest.py`` to configure a whole directory, or parametrize it.
    """
    return {}


@pytest.fixture
def kie_client_options() -> dict[str, Any]:
    """Keyword arguments for the ``kie_client`` and ``kie_async_client`` clients (default: none).

    E.g. ``{"max_retries": 0}`` or ``{"poll_policy": PollPolicy(...)}``; override or parametrize it.
    """
    return {}


@dataclass(frozen=True)
class _Setup:
    emulator: Emulator
    virtual: VirtualTime | None  # None when the test passed its own clock

    def time_options(self, *, asynchronous: bool) -> dict[str, Any]:
        if self.virtual is None:
            return {}
        sleep = self.virtual.asleep if asynchronous else self.virtual.sleep
        return {"clock": self.virtual.monotonic, "sleep": sleep}


@pytest.fixture
def _kie_setup(request: pytest.FixtureRequest, kie_emulator_options: dict[str, Any]) -> Iterator[_Setup]:
    from kie_gpt_image.emulator import Emulator, Schedule

    options = {**kie_emulator_options, **_marker_options(request.node)}
    options.setdefault("schedule", Schedule.instant())
    virtual: VirtualTime | None = None
    if "clock" not in options:
        virtual = VirtualTime()
        options["clock"] = virtual.time
    with Emulator(**options) as emulator:
        yield _Setup(emulator, virtual)


@pytest.fixture
def kie_emulator(_kie_setup: _Setup) -> Emulator:
    """A fresh in-process `kie_gpt_image.emulator.Emulator`, configured by the ``kie_emulator`` marker.

    Options come from ``kie_emulator_options`` with the marker's keyword arguments over them; the
    emulator is closed after the test.

    Returns:
        The emulator.
    """
    return _kie_setup.emulator


@pytest.fixture
def kie_client(_kie_setup: _Setup, kie_client_options: dict[str, Any]) -> Iterator[Client]:
    """A `kie_gpt_image.Client` wired to ``kie_emulator`` in process; closed after the test.

    Args:
        _kie_setup: The test's emulator (``kie_emulator``) and shared clock.
        kie_client_options: Extra ``Client`` keyword arguments.

    Returns:
        The client.
    """
    options = {**_kie_setup.time_options(asynchronous=False), **kie_client_options}
    with _kie_setup.emulator.client(**options) as client:
        yield client


@pytest.fixture
def kie_async_client(_kie_setup: _Setup, kie_client_options: dict[str, Any]) -> Iterator[AsyncClient]:
    """A `kie_gpt_image.AsyncClient` wired to ``kie_emulator`` in process; closed after the test.

    A synchronous fixture on purpose: building an ``AsyncClient`` needs no event loop, and a plain
    fixture is usable from tests run by anyio's plugin, pytest-asyncio in strict mode, or trio.

    Args:
        _kie_setup: The test's emulator (``kie_emulator``) and shared clock.
        kie_client_options: Extra ``AsyncClient`` keyword arguments.

    Returns:
        The client.
    """
    options = {**_kie_setup.time_options(asynchronous=True), **kie_client_options}
    client = _kie_setup.emulator.async_client(**options)
    yield client
    # The in-process transport holds no sockets or loop-bound state, so a short-lived loop of our own
    # can close it after the test's loop is gone (closing twice is harmless if the test used
    # `async with`). Not asyncio.run: it also resets the thread's current event loop
    # (set_event_loop(None)), which is not ours to touch.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(client.aclose())
    finally:
        loop.close()


@pytest.fixture
def kie_server(kie_emulator: Emulator) -> Iterator[EmulatorServer]:
    """``kie_emulator`` served on loopback sockets (ephemeral ports), stopped after the test.

    Point your own code at ``kie_server.base_url`` and ``kie_server.upload_base_url`` with the key
    ``kie_emulator.api_key``. Callbacks are delivered by a background thread.

    Args:
        kie_emulator: The emulator to serve.

    Returns:
        The running `kie_gpt_image.emulator.EmulatorServer`.
    """
    with kie_emulator.serve(port=0) as server:
        yield server
