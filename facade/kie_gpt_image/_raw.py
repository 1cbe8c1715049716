"""``client.with_raw_response``: the HTTP replies behind a result (openai-python's convention).

``client.with_raw_response.get_task(task_id)`` runs ``client.get_task(task_id)`` and returns a
``RawResponse`` holding the kie.ai replies the call received (``http_response`` is the last one) and
the parsed value (``parse()``). The drivers hand every kie.ai reply to ``record``; a context variable
scopes the capture to the call (a thread in ``Client``, a task in ``AsyncClient``), so concurrent calls
never see each other's replies. The exposed replies are copies whose request carries no key: the
``Authorization`` header reads ``<API key hidden>`` and the request body (an upload) is not kept.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

__all__ = ["RAW_METHODS", "AsyncRawResponses", "RawResponse", "RawResponses", "record"]

T = TypeVar("T")

RAW_METHODS = frozenset(
    {"create_task", "credits", "download_url", "edit", "get_task", "handle_callback", "upload", "wait"}
)
"""The methods that talk to kie.ai, and so have replies to show."""

_HIDDEN = "<API key hidden>"
_CAPTURE: ContextVar[list[httpx.Response] | None] = ContextVar("kie_gpt_image_raw", default=None)


def _exposed(response: httpx.Response) -> httpx.Response:
    request = response.request
    headers = [
        (name, _HIDDEN if name.lower() in ("authorization", "proxy-authorization") else value)
        for name, value in request.headers.multi_items()
    ]
    safe = httpx.Request(request.method, request.url, headers=headers)
    return httpx.Response(
        response.status_code, headers=response.headers.multi_items(), content=response.content, request=safe
    )


def record(response: httpx.Response) -> httpx.Response:
    """Keep a key-free copy of a read kie.ai reply when a ``with_raw_response`` call is capturing;
    return ``response`` unchanged."""
    seen = _CAPTURE.get()
    if seen is not None:
        seen.append(_exposed(response))
    return response


@contextmanager
def _capture() -> Iterator[list[httpx.Response]]:
    seen: list[httpx.Response] = []
    token = _CAPTURE.set(seen)
    try:
        yield seen
    finally:
        _CAPTURE.reset(token)


@dataclass(frozen=True, slots=True)
class RawResponse(Generic[T]):
    """The kie.ai replies behind one call, and its parsed value.

    Example::

        raw = client.with_raw_response.get_task(task_id)
        print(raw.status_code, raw.headers.get("content-type"))
        info = raw.parse()  # the TaskInfo client.get_task would have returned
    """

    responses: tuple[httpx.Response, ...]
    """Every kie.ai reply the call received, in order (an ``edit``: uploads, createTask, each poll);
    retried attempts included. Their ``request`` carries no key and no body."""
    _value: T

    @property
    def http_response(self) -> httpx.Response:
        """The last kie.ai reply (read: ``.content``, ``.json()`` work)."""
        return self.responses[-1]

    @property
    def headers(self) -> httpx.Headers:
        """The last reply's headers."""
        return self.http_response.headers

    @property
    def status_code(self) -> int:
        """The last reply's HTTP status."""
        return self.http_response.status_code

    def parse(self) -> T:
        """The value the plain call returns (``TaskInfo``, ``EditResult``, ...)."""
        return self._value


def _method(client: object, name: str) -> Callable[..., Any]:
    if name not in RAW_METHODS:
        raise AttributeError(f"with_raw_response has no {name!r}: it wraps {', '.join(sorted(RAW_METHODS))}")
    method: Callable[..., Any] = getattr(client, name)
    return method


class RawResponses:
    """``Client.with_raw_response``: the same methods, returning ``RawResponse[...]``."""

    def __init__(self, client: object) -> None:  # a Client (not imported: no import cycle)
        self._client = client

    def __getattr__(self, name: str) -> Callable[..., RawResponse[Any]]:
        method = _method(self._client, name)

        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> RawResponse[Any]:
            with _capture() as seen:
                value = method(*args, **kwargs)
            return RawResponse(tuple(seen), value)

        return call

    def __dir__(self) -> list[str]:
        return sorted(RAW_METHODS)


class AsyncRawResponses:
    """``AsyncClient.with_raw_response``: the same coroutines, returning ``RawResponse[...]``."""

    def __init__(self, client: object) -> None:  # an AsyncClient
        self._client = client

    def __getattr__(self, name: str) -> Callable[..., Awaitable[RawResponse[Any]]]:
        method = _method(self._client, name)

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> RawResponse[Any]:
            with _capture() as seen:
                value = await method(*args, **kwargs)
            return RawResponse(tuple(seen), value)

        return call

    def __dir__(self) -> list[str]:
        return sorted(RAW_METHODS)
