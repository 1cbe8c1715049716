"""The small value types shared by the core and its front ends, and the protocol the front ends drive the
core through (httpx transport, socket server, WSGI app)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

__all__ = ["Backend", "Dispatch", "Exchange", "HostKind", "WireEffect"]

HostKind = Literal["api", "upload", "files"]
"""Which of the emulator's three hosts a request reached (kie.ai splits API, upload and file hosting)."""

WireEffect = Literal["reply", "drop_before", "drop_after", "delay", "trickle"]
"""What the front end must do on the wire with a handled request (see ``Fault``)."""


@dataclass(frozen=True)
class Exchange:
    """One request the emulator processed or answered, with the reply it produced."""

    endpoint: str
    """The spec's operationId of the endpoint (``"files"`` for the file host, ``"unknown"`` otherwise)."""
    request: httpx.Request
    """The request as received (body already read)."""
    response: httpx.Response
    """The reply the emulator produced (for ``drop_after`` it was never delivered)."""
    fault: str | None = None
    """The kind of the injected fault that shaped this exchange, if any."""


@dataclass(frozen=True)
class Dispatch:
    """The core's answer to one request: a reply and what to do with it on the wire."""

    endpoint: str
    """The operationId the request was routed to."""
    response: httpx.Response | None
    """The reply; ``None`` only for ``drop_before``."""
    effect: WireEffect = "reply"
    """``reply`` normally; otherwise the injected connection-level fault to act out."""
    delay: float = 0.0
    """Seconds to hold the reply back for ``effect == "delay"`` (between bytes for ``"trickle"``)."""


class Backend(Protocol):
    """What the front ends (httpx transport, socket server, WSGI app) need from the core.

    The front ends sit *below* the core and know it only through this protocol, so no module of the
    emulator imports one above it (issue 14: no import circles).
    """

    sleep: Callable[[float], None] | None
    """Used by ``Fault.delay`` in-process and over WSGI; ``None`` means no sleep was injected."""

    def host_of(self, request: httpx.Request) -> HostKind | None:
        """Which emulator host ``request`` is addressed to, if any."""

    def dispatch(self, request: httpx.Request, host: HostKind | None = None) -> Dispatch:
        """Handle one request (body read) addressed to ``host`` (``None``: route by path)."""

    def deliver_due_callbacks(self) -> int:
        """Attempt every callback that is due; return how many were delivered."""

    def _use_urls(self, urls: Mapping[HostKind, str] | None, server: object = None) -> None:
        """Serve under ``urls`` (a socket server started) or back under the in-process ones (``None``)."""
