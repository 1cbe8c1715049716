"""Each batch item's journal mark goes out with its own createTask, not in a burst before the first one.

The batch wraps its client's transport in ``JournalingTransport``. The item whose createTask is being sent
is known from a context variable (``submitting``), which ``BatchRunner`` sets in the item's own task:
right before the request is handed to the network the item is journaled ``submitting`` (one commit,
then that item's request; the next item's commit comes when its own request does), and when kie.ai
refuses it (429 or 455: nothing was created) it goes straight back to ``pending``. So a crash leaves
``submitting`` (reported as unknown) only for a createTask really on the wire, and an item kie.ai only
ever refused is ``pending``, resubmitted by the next run. ``Submission.busy`` also tells Ctrl-C whether
it must wait for a reply (a request on the wire) or can stop the item at once (between resends).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar

import httpx

__all__ = ["JournalingTransport", "Submission", "submitting"]

# kie.ai's answers that say "not accepted, nothing created" (reference: common API codes 429 and 455).
_REFUSED = frozenset({429, 455})
# A createTask reply is a few hundred bytes; beyond this the reply is passed on unread (not "refused").
_PEEK_BYTES = 64 * 1024


class Submission:
    """One item's createTask attempts, as the transport sees them.

    Args:
        mark: journal the item ``submitting`` (called right before each attempt is sent).
        unmark: journal it ``pending`` again (kie.ai refused the attempt: nothing was created).
    """

    def __init__(self, mark: Callable[[], None], unmark: Callable[[], None]) -> None:
        self._mark = mark
        self._unmark = unmark
        self.busy = False
        """A createTask of this item is on the wire, or answered and not yet journaled."""
        self.idle = asyncio.Event()
        """Set whenever ``busy`` is false."""
        self.idle.set()
        self.sent = False
        """An attempt went through the transport (and so was marked)."""

    def before_send(self) -> None:
        """An attempt is about to be handed to the network: mark it, then it goes."""
        self.busy = True
        self.idle.clear()
        self.sent = True
        self._mark()

    def refused(self) -> None:
        """kie.ai refused the attempt, or it never left: the item is pending again until the next one."""
        self._unmark()
        self._release()

    def finished(self) -> None:
        """The item's create step is over (its outcome journaled by the runner)."""
        self._release()

    def _release(self) -> None:
        self.busy = False
        self.idle.set()


submitting: ContextVar[Submission | None] = ContextVar("kie_gpt_image_batch_submission", default=None)
"""The item whose createTask this task sends (set by the batch in the item's own task)."""


def _is_create(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path.endswith("/jobs/createTask")


def _refused(status: int, head: bytes) -> bool:
    if status in _REFUSED:
        return True
    try:
        body = json.loads(head)
    except ValueError:  # not JSON, compressed, or longer than the peek: not a refusal we can prove
        return False
    return isinstance(body, dict) and body.get("code") in _REFUSED


class JournalingTransport(httpx.AsyncBaseTransport):
    """The batch client's transport: marks each item right before its createTask is sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self._order = asyncio.Lock()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; a batch item's createTask is journaled around it (see the module)."""
        submission = submitting.get()
        if submission is None or not _is_create(request):
            return await self._inner.handle_async_request(request)
        # One mark at a time, each followed by its own request: the next item's mark waits until this
        # request's body is being written (its headers are on the socket by then) or it has ended.
        await self._order.acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._order.release()

        try:
            submission.before_send()
            request.stream = _Announcing(request.stream, release)
            response = await self._inner.handle_async_request(request)
        except httpx.ConnectError:
            submission.refused()  # never reached kie.ai
            raise
        finally:
            release()
        # Read the (small) reply here, so "busy" lasts until kie.ai's answer is known.
        head = b""
        stream = response.stream
        if not isinstance(stream, httpx.AsyncByteStream):  # not an async transport's reply: left as is
            return response
        rest = stream.__aiter__()
        try:
            async for chunk in rest:  # an exhausted generator then gives _Replay nothing more
                head += chunk
                if len(head) > _PEEK_BYTES:
                    break
        except BaseException:
            await response.aclose()
            raise
        if len(head) <= _PEEK_BYTES and _refused(response.status_code, head):
            submission.refused()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Replay(head, rest, response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()


class _Announcing(httpx.AsyncByteStream):
    """A request body that calls ``started`` when the network layer begins to write it."""

    def __init__(self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, started: Callable[[], None]):
        self._stream = stream
        self._started = started

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._started()
        if isinstance(self._stream, httpx.AsyncByteStream):
            async for chunk in self._stream:
                yield chunk
        else:
            for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        if isinstance(self._stream, httpx.AsyncByteStream):
            await self._stream.aclose()


class _Replay(httpx.AsyncByteStream):
    """The bytes already read, then the rest of the original reply."""

    def __init__(self, head: bytes, rest: AsyncIterator[bytes], response: httpx.Response) -> None:
        self._head = head
        self._rest = rest
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._head:
            yield self._head
        async for chunk in self._rest:
            yield chunk

    async def aclose(self) -> None:
        await self._response.aclose()
