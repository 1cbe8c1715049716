"""The in-process front end: one httpx transport for both ``httpx.Client`` and ``httpx.AsyncClient``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx

from ._exchange import Backend, Dispatch
from ._faults import wire_body

__all__ = ["EmulatorTransport"]


class EmulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Routes requests by host name to the emulator's API, upload and file hosts; no sockets.

    Connection-level faults surface as the httpx errors a real network produces: ``drop_before`` as
    ``httpx.ConnectError`` (nothing processed), ``drop_after`` as ``httpx.RemoteProtocolError`` (processed),
    ``delay`` as ``httpx.ReadTimeout`` after processing, unless the emulator was given a ``sleep``;
    ``trickle`` streams the reply one byte per interval (really sleeping, ``asyncio.sleep`` when async).
    A request to any other host raises ``httpx.ConnectError``: the emulator never reaches the network.
    """

    def __init__(self, emulator: Backend) -> None:
        self._emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Handle ``request`` synchronously."""
        request.read()
        return self._finish(request, sync=True)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Handle ``request`` from an ``httpx.AsyncClient`` (the core is fast and lock-guarded)."""
        await request.aread()
        return self._finish(request, sync=False)

    def _finish(self, request: httpx.Request, *, sync: bool) -> httpx.Response:
        host = self._emulator.host_of(request)
        if host is None:
            raise httpx.ConnectError(f"the emulator does not serve {request.url.host!r}", request=request)
        return self._act(self._emulator.dispatch(request, host), request, sync)

    def _act(self, dispatch: Dispatch, request: httpx.Request, sync: bool) -> httpx.Response:
        if dispatch.effect == "drop_before":
            raise httpx.ConnectError("emulated fault: connection dropped before the request", request=request)
        if dispatch.effect == "drop_after":
            raise httpx.RemoteProtocolError(
                "emulated fault: server disconnected without sending a response", request=request
            )
        if dispatch.effect == "delay":
            sleep = self._emulator.sleep
            if sleep is None:
                raise httpx.ReadTimeout(
                    f"emulated fault: reply delayed {dispatch.delay:g} s", request=request
                )
            sleep(dispatch.delay)
        assert dispatch.response is not None  # noqa: S101 - only drop_before has no response
        response = dispatch.response
        body = wire_body(response)
        if dispatch.effect == "trickle":
            return httpx.Response(
                response.status_code,
                headers=[(k, v) for k, v in response.headers.multi_items()],
                content=_trickle(body, dispatch.delay) if sync else _atrickle(body, dispatch.delay),
                request=request,
            )
        # A fresh Response per delivery: the recorded one stays readable for users' assertions.
        return httpx.Response(
            response.status_code,
            headers=[(k, v) for k, v in response.headers.multi_items()],
            content=body,
            request=request,
        )


def _trickle(body: bytes, interval: float) -> Iterator[bytes]:
    for i in range(len(body)):
        time.sleep(interval)
        yield body[i : i + 1]


async def _atrickle(body: bytes, interval: float) -> AsyncIterator[bytes]:
    import asyncio

    for i in range(len(body)):
        await asyncio.sleep(interval)
        yield body[i : i + 1]
