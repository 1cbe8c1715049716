"""Framework-neutral callback receivers: one ASGI app and one WSGI app around ``verify_callback``.

Both answer kie.ai the way its callback pages ask (reference §5, https://docs.kie.ai/common-api/webhook-verification):
verify, acknowledge at once (kie.ai waits 15 s and retries up to 3 times), work afterwards. The decision
(which status for which request) is written once in ``_Gate``; the two apps only move bytes:

    status  when
    200     verified (your function runs after the reply), or a replay (acknowledged, nothing runs)
    400     the body is not a callback envelope with a task id (``MalformedCallbackError``)
    401     a missing or bad signature, a stale or future timestamp
    405     any method but POST
    413     a body larger than ``max_body_bytes``

Serve them as a route: ``app.add_route("/kie/callback", receiver)`` in Starlette or FastAPI (a route, not
``app.mount``: a mount answers kie.ai's POST to ``/kie/callback`` with a 307 redirect to ``/kie/callback/``,
which kie.ai does not follow), Werkzeug's ``DispatcherMiddleware`` in Flask, or serve them alone
(``uvicorn module:receiver``, any WSGI server).
No framework is imported.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from ._auth import Secret
from ._errors import (
    InvalidInputError,
    MalformedCallbackError,
    ReplayedCallbackError,
    WebhookVerificationError,
)
from ._models import TaskInfo
from ._urls import WEBHOOK_KEY_ENV
from ._webhooks import (
    DEFAULT_TOLERANCE,
    ReplayGuard,
    VerifiedCallback,
    check_key,
    check_tolerance,
    verify_callback,
)

if TYPE_CHECKING:
    from ._async_client import AsyncClient
    from ._client import Client

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "WEBHOOK_KEY_ENV",
    "ASGIReceiver",
    "WSGIReceiver",
    "asgi_receiver",
    "wsgi_receiver",
]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""A callback is one task record (a few KB); anything over 1 MiB is refused with 413 unread."""

_log = logging.getLogger("kie_gpt_image.webhooks")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class _Reply:
    status: int
    text: str
    verified: VerifiedCallback | None = None


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    405: "Method Not Allowed",
    413: "Content Too Large",
}


def _resolve_key(key: str | None) -> str:
    value = key if key is not None else os.environ.get(WEBHOOK_KEY_ENV)
    if isinstance(value, str) and value.strip():
        check_key(value)
        return value
    raise InvalidInputError(
        "key",
        f"no webhook HMAC key: pass key=... or set {WEBHOOK_KEY_ENV} (generate it on kie.ai's Settings "
        "page, where webhook signing is enabled; https://docs.kie.ai/common-api/webhook-verification)",
    )


class _Gate:
    """The receivers' one decision: which reply a request gets, and the verified callback if any."""

    def __init__(
        self,
        key: str | None,
        tolerance: float,
        replay_guard: ReplayGuard | None,
        max_body_bytes: int,
        clock: Callable[[], float],
    ) -> None:
        if not callable(clock):
            raise InvalidInputError("clock", "must be a function returning the Unix time")
        self.clock = clock
        self.key = Secret(_resolve_key(key), "webhook key")  # no repr or vars() shows it
        self.tolerance = check_tolerance(tolerance)
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes <= 0:
            raise InvalidInputError("max_body_bytes", "must be a positive integer")
        self.max_body_bytes = max_body_bytes
        self.guard = replay_guard if replay_guard is not None else ReplayGuard()

    def before_body(self, method: str, content_length: str | None) -> _Reply | None:
        """A reply decided before reading the body, or ``None`` to read it."""
        if method.upper() != "POST":
            return _Reply(405, "only POST")
        if content_length:
            # ASCII digits only: ``str.isdigit`` also accepts "²" and other Unicode digits that ``int``
            # refuses, which would end the request in a 500 instead of this 400.
            length = content_length.strip()
            if not (length.isascii() and length.isdigit()):
                return _Reply(400, "bad Content-Length")
            if int(length) > self.max_body_bytes:
                return _Reply(413, "body too large")
        return None

    def decide(self, body: bytes, headers: Iterable[tuple[str | bytes, str | bytes]]) -> _Reply:
        """Verify the request; the reply and, on success, the callback to process after it."""
        try:
            verified = verify_callback(
                body,
                headers,
                self.key.reveal(),
                tolerance=self.tolerance,
                now=self.clock(),
                replay_guard=self.guard,
            )
        except ReplayedCallbackError as exc:
            _log.info("%s", exc)
            return _Reply(200, "already processed")
        except MalformedCallbackError as exc:
            _log.warning("callback refused (400): %s", exc)
            return _Reply(400, type(exc).__name__)
        except WebhookVerificationError as exc:
            _log.warning("callback refused (401): %s", exc)
            return _Reply(401, type(exc).__name__)
        return _Reply(200, "ok", verified)


def _check_client(handler: object, client: object, *, allow_async: bool) -> None:
    if not callable(handler):
        raise InvalidInputError("handler", "must be a function taking the callback (or the TaskInfo)")
    if client is None:
        return
    if not callable(getattr(client, "get_task", None)):
        raise InvalidInputError("client", "must be a kie_gpt_image Client (or AsyncClient for ASGI)")
    if not allow_async and _is_async(client.get_task):  # type: ignore[attr-defined]
        raise InvalidInputError(
            "client", "a WSGI receiver runs in threads: give a Client, not an AsyncClient"
        )


def _is_async(function: Callable[..., object]) -> bool:
    # An ``async def`` function, bound method, or object with an ``async def __call__``.
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(type(function).__call__)


def _failed(verified: VerifiedCallback) -> None:
    # The reply is already sent: kie.ai will not retry, so say how to recover the result.
    _log.exception(
        "processing the callback for task %s failed; its result is still available with "
        "client.get_task(%r) or client.wait(%r)",
        verified.task_id,
        verified.task_id,
        verified.task_id,
    )


class ASGIReceiver:
    """An ASGI 3 app receiving kie.ai callbacks; made by ``asgi_receiver``.

    Also answers the ``lifespan`` protocol, so it can be served alone (``uvicorn module:receiver``).
    """

    def __init__(self, handler: Callable[[Any], object], gate: _Gate, client: Client | AsyncClient | None):
        self._handler = handler
        self._gate = gate
        self._client = client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (``http``; ``lifespan`` is acknowledged)."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        length = next((v.decode("latin-1") for n, v in headers if n.lower() == b"content-length"), None)
        reply = self._gate.before_body(str(scope.get("method", "")), length)
        if reply is None:
            body = await self._read_body(receive)
            if body is None:
                return  # the client went away
            reply = self._gate.decide(body, headers) if isinstance(body, bytes) else body
        await self._respond(send, reply)
        if reply.verified is not None:
            # The response is complete: kie.ai has its 200, the work happens now (as Starlette's
            # BackgroundTask does, inside the same request task).
            try:
                await self._process(reply.verified)
            except Exception:
                _failed(reply.verified)

    async def _read_body(self, receive: Receive) -> bytes | _Reply | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > self._gate.max_body_bytes:
                return _Reply(413, "body too large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _respond(send: Send, reply: _Reply) -> None:
        content = reply.text.encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(content)).encode()),
        ]
        if reply.status == 405:
            headers.append((b"allow", b"POST"))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": content, "more_body": False})

    async def _process(self, verified: VerifiedCallback) -> None:
        import asyncio  # on first use: WSGI users never pay for it

        argument: VerifiedCallback | TaskInfo = verified
        if self._client is not None:
            # The trusted record: one recordInfo read of the signed task id (what handle_callback does).
            get_task: Callable[[str], Any] = self._client.get_task
            if _is_async(get_task):
                argument = await get_task(verified.task_id)
            else:
                argument = await asyncio.to_thread(get_task, verified.task_id)
        if _is_async(self._handler):
            outcome = self._handler(argument)
        else:  # a plain function may block: keep it off the event loop
            outcome = await asyncio.to_thread(self._handler, argument)
        if inspect.isawaitable(outcome):
            await outcome

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


class _AfterResponse:
    """A WSGI body whose ``close()`` (called by the server once the response is sent, PEP 3333) hands
    the verified callback to the worker threads."""

    def __init__(self, content: bytes, start: Callable[[], None] | None) -> None:
        self._content = content
        self._start = start

    def __iter__(self) -> Iterator[bytes]:
        yield self._content

    def close(self) -> None:
        start, self._start = self._start, None
        if start is not None:
            start()


class WSGIReceiver:
    """A WSGI app receiving kie.ai callbacks; made by ``wsgi_receiver``.

    Your function runs on a small thread pool once the response is sent; ``shutdown()`` waits for it.
    """

    def __init__(self, handler: Callable[[Any], object], gate: _Gate, client: Client | None, workers: int):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers <= 0:
            raise InvalidInputError("workers", "must be a positive integer")
        self._handler = handler
        self._gate = gate
        self._client = client
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kie-callback")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request."""
        reply = self._gate.before_body(str(environ.get("REQUEST_METHOD", "")), environ.get("CONTENT_LENGTH"))
        if reply is None:
            body = self._read_body(environ)
            if isinstance(body, _Reply):
                reply = body
            else:
                headers = [
                    (name[5:].replace("_", "-"), value)
                    for name, value in environ.items()
                    if name.startswith("HTTP_") and isinstance(value, str)
                ]
                reply = self._gate.decide(body, headers)
        content = reply.text.encode()
        response_headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(content))),
        ]
        if reply.status == 405:
            response_headers.append(("Allow", "POST"))
        start_response(f"{reply.status} {_REASONS[reply.status]}", response_headers)
        verified = reply.verified
        if verified is None:
            return _AfterResponse(content, None)
        return _AfterResponse(content, lambda: self._submit(verified))

    def _read_body(self, environ: dict[str, Any]) -> bytes | _Reply:
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if length:
            return bytes(stream.read(int(length)))
        if environ.get("wsgi.input_terminated"):  # chunked: read to the end, but no further than the cap
            body = bytes(stream.read(self._gate.max_body_bytes + 1))
            return _Reply(413, "body too large") if len(body) > self._gate.max_body_bytes else body
        return b""  # PEP 3333: without a length, reading could block

    def _submit(self, verified: VerifiedCallback) -> None:
        try:
            self._pool.submit(self._process, verified)
        except RuntimeError:  # shut down: run it here rather than lose it
            self._process(verified)

    def _process(self, verified: VerifiedCallback) -> None:
        try:
            argument = verified if self._client is None else self._client.get_task(verified.task_id)
            self._handler(argument)
        except Exception:
            _failed(verified)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking new work; with ``wait``, return once every accepted callback has been processed."""
        self._pool.shutdown(wait=wait)


@overload
def asgi_receiver(
    handler: Callable[[TaskInfo], object],
    *,
    client: Client | AsyncClient,
    key: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    replay_guard: ReplayGuard | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    clock: Callable[[], float] = time.time,
) -> ASGIReceiver: ...
@overload
def asgi_receiver(
    handler: Callable[[VerifiedCallback], object],
    *,
    client: None = None,
    key: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    replay_guard: ReplayGuard | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    clock: Callable[[], float] = time.time,
) -> ASGIReceiver: ...
def asgi_receiver(
    handler: Callable[[Any], object],
    *,
    client: Client | AsyncClient | None = None,
    key: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    replay_guard: ReplayGuard | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    clock: Callable[[], float] = time.time,
) -> ASGIReceiver:
    """An ASGI app that verifies kie.ai callbacks, answers at once and then calls ``handler``.

    Args:
        handler: your function (``def`` or ``async def``; a ``def`` runs in a worker thread). With
            ``client`` it receives the trusted ``TaskInfo`` read from kie.ai; without, the
            ``VerifiedCallback`` (signed task id and timestamp; its record is unverified).
        client: a ``Client`` or ``AsyncClient`` used to read the signed task id's record
            (one ``get_task``) after the reply; recommended, since kie.ai does not sign the body.
        key: the webhook HMAC key; default ``KIE_WEBHOOK_HMAC_KEY``.
        tolerance: the timestamp window in seconds (positive, finite).
        replay_guard: where accepted deliveries are remembered (default in memory, per process).
        max_body_bytes: larger bodies get 413 without being read.
        clock: the Unix time the signed timestamps are checked against (default ``time.time``; a
            scaled clock when kie.ai's emulator runs on one).

    Returns:
        The ASGI app, to add as a route (``app.add_route("/kie/callback", receiver)`` in Starlette or
        FastAPI; not ``app.mount``, which answers kie.ai's POST with a 307 redirect) or serve alone.

    Raises:
        InvalidInputError: no key (argument or environment), a bad tolerance, size or client: at
            start-up, never on a request.
    """
    gate = _Gate(key, tolerance, replay_guard, max_body_bytes, clock)
    _check_client(handler, client, allow_async=True)
    return ASGIReceiver(handler, gate, client)


@overload
def wsgi_receiver(
    handler: Callable[[TaskInfo], object],
    *,
    client: Client,
    key: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    replay_guard: ReplayGuard | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    clock: Callable[[], float] = time.time,
    workers: int = 4,
) -> WSGIReceiver: ...
@overload
def wsgi_receiver(
    handler: Callable[[VerifiedCallback], object],
    *,
    client: None = None,
    key: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    replay_guard: ReplayGuard | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    clock: Callable[[], float] = time.time,
    workers: int = 4,
) -> WSGIReceiver: ...
def wsgi_receiver(
    handler: Callable[[Any], object],
    *,
    client: Client | None = None,
    key: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    replay_guard: ReplayGuard | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    clock: Callable[[], float] = time.time,
    workers: int = 4,
) -> WSGIReceiver:
    """A WSGI app that verifies kie.ai callbacks, answers at once and then calls ``handler`` in a thread.

    The work starts when the server closes the response (PEP 3333 ``close()``), on a pool of ``workers``
    threads; for work that must survive a restart, make ``handler`` put the task id on your own queue.

    Args:
        handler: your function. With ``client`` it receives the trusted ``TaskInfo`` read from kie.ai;
            without, the ``VerifiedCallback`` (signed task id and timestamp; its record is unverified).
        client: a ``Client`` used to read the signed task id's record (one ``get_task``) after the reply.
        key: the webhook HMAC key; default ``KIE_WEBHOOK_HMAC_KEY``.
        tolerance: the timestamp window in seconds (positive, finite).
        replay_guard: where accepted deliveries are remembered (default in memory, per process).
        max_body_bytes: larger bodies get 413 without being read.
        clock: the Unix time the signed timestamps are checked against (default ``time.time``; a
            scaled clock when kie.ai's emulator runs on one).
        workers: threads running ``handler``.

    Returns:
        The WSGI app (mount it with Werkzeug's ``DispatcherMiddleware`` in Flask, or serve it alone).

    Raises:
        InvalidInputError: no key (argument or environment), a bad tolerance, size, worker count or
            client: at start-up, never on a request.
    """
    gate = _Gate(key, tolerance, replay_guard, max_body_bytes, clock)
    _check_client(handler, client, allow_async=False)
    return WSGIReceiver(handler, gate, client, workers)
