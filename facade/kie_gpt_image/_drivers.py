"""The two drivers of the shared flows: ``SyncDriver`` (``httpx.Client``, threads, ``time.sleep``) and
``AsyncDriver`` (``httpx.AsyncClient``, tasks, async sleep). Each runs a flow's effects and hands the
outcome back; neither holds any logic of its own about kie.ai (that is ``_flow`` and ``_attempt``).
Imported with the first client (BENCHMARKS.md figure 2)."""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar, assert_never

import httpx
import sniffio

from . import _raw
from ._attempt import CAUGHT
from ._clock import async_sleep_for, sleeper_for
from ._collect import Collector, NoCookies, replayed
from ._deadline import AttemptDeadline, DeadlineExceeded, active, clamp_timeout
from ._decoding import ACCEPT_ENCODING
from ._download import Sink
from ._effects import Fetch, Flow, Gather, Notify, OpenStore, Send, Sleep, Take
from ._engine import USER_AGENT, Engine
from ._errors import ClientClosedError, DestinationError, KieError
from ._finishes import Watch
from ._many import ItemOutcome, Stopped, as_completed_async, as_completed_threads, stop_requested
from ._models import Task, TaskInfo
from ._results import AsyncEditResult, AsyncRunResult, EditResult, RunResult
from ._settings import Settings
from ._urls import env_proxies

__all__ = ["AsyncDriver", "SyncDriver"]

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741
R = TypeVar("R")
_STOP_CHECK = 0.25  # seconds between looks at an edit_many/wait_many stop while a watched wait sleeps
# What a driver hands back to the flow: the failures ``_attempt`` classifies, and the local errors the
# flow must raise with the task id (a destination that cannot be written, a client closed meanwhile).
_OUTCOMES: tuple[type[Exception], ...] = (*CAUGHT, DestinationError, ClientClosedError)
# Our user agent, and only the encodings ``_decoding`` inflates within a cap (httpx would offer br and zstd
# too whenever brotli or zstandard is installed). Result downloads send these and no key.
_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING}


class SyncDriver(Engine):
    """Runs flows for ``Client``: one thread per call (``Gather``: a pool), sleeping through the client's
    sleeper (``_clock``: real time, a test clock, or an injected ``sleep``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None,
        http_client: httpx.Client | None,
        sleep: Callable[[float], None],
    ) -> None:
        super().__init__(settings)
        self.owns_http = http_client is None
        if http_client is None and transport is None and not env_proxies():
            from ._sockets import DeadlineTransport  # imports httpcore, as httpx does here

            transport = DeadlineTransport(limits=settings.limits)
        self.http = http_client or httpx.Client(
            timeout=settings.timeout,
            limits=settings.limits,
            transport=transport,
            cookies=NoCookies(),
            headers=_HEADERS,
        )
        self.sleeper = sleeper_for(settings.clock, sleep)

    @staticmethod
    def result(info: TaskInfo, client: Any) -> EditResult:
        """The public result of a finished task, downloading through ``client``."""
        return EditResult.from_info(info, client)

    @classmethod
    def outcome(cls, outcome: Task | TaskInfo, client: Any) -> EditResult | Task:
        """A created ``Task`` as it is (``wait=False``), else the public result."""
        return outcome if isinstance(outcome, Task) else cls.result(outcome, client)

    @staticmethod
    def run_outcome(outcome: Task | TaskInfo, client: Any) -> RunResult | Task:
        """``run``'s: a created ``Task`` as it is (``wait=False``), else a ``RunResult`` (files and data)."""
        return outcome if isinstance(outcome, Task) else RunResult.from_info(outcome, client)

    @staticmethod
    def many(
        one: Callable[[I], R],
        items: Iterable[I],
        limit: int,
        *,
        max_credits: float | None = None,
        credits: Callable[[], float] | None = None,
    ) -> Iterator[ItemOutcome[R]]:
        """``edit_many``/``wait_many``: ``one`` per item on up to ``limit`` threads, in finishing order
        (under a credit budget when ``max_credits`` is given: ``_spend``)."""
        return as_completed_threads(one, items, limit, max_credits=max_credits, credits=credits)

    def run(self, flow: Flow[T], on_progress: Callable[[TaskInfo], object] | None = None) -> T:
        """Drive ``flow`` to its value (or its error, masked)."""
        stop = stop_requested()  # set when an edit_many/wait_many loop was left early
        try:
            if self.closed:
                raise self.closed_error("create a new one")
            value: Any = None
            while True:
                if stop is not None and stop.is_set():
                    raise Stopped("the edit_many/wait_many loop was left")
                try:
                    effect = flow.send(value)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                value = None
                if isinstance(effect, Send):
                    value = self._send(effect)
                elif isinstance(effect, Fetch):
                    value = self._fetch(effect)
                elif isinstance(effect, Sleep):
                    self._pause(effect, stop)
                elif isinstance(effect, Notify):
                    if on_progress is not None:
                        on_progress(effect.info)
                elif isinstance(effect, Take):
                    value = self.scheduler.take(effect.ticket)
                elif isinstance(effect, OpenStore):
                    value = self.open_store()
                elif isinstance(effect, Gather):
                    value = self._gather(effect)
                else:
                    assert_never(effect)
        except KieError as exc:
            self.surface(exc)
            raise
        except BaseException as exc:
            _interrupted(flow, exc)  # Ctrl-C: the exception names the task that goes on
            raise
        finally:
            flow.close()

    def _pause(self, effect: Sleep, stop: threading.Event | None) -> None:
        """Sleep through ``effect`` on the client's sleeper: until word of its task's finish, or the
        edit_many/wait_many loop is left, whichever is first (an injected ``sleep`` function runs whole;
        real time and a test clock are woken early)."""
        sleeper = self.sleeper
        watch = effect.watch
        if watch is None:
            if stop is None:
                sleeper.sleep(effect.seconds)
            else:
                sleeper.wait(stop, effect.seconds)  # wakes at once when the loop is left
            return
        woken = threading.Event()
        if not watch.arm(woken.set):
            return  # the word arrived while the poll was out
        try:
            if stop is None:
                sleeper.wait(woken, effect.seconds)
                return
            clock = self.settings.clock
            end = clock() + effect.seconds
            while not woken.is_set() and not stop.is_set() and (left := end - clock()) > 0:
                sleeper.wait(woken, min(left, _STOP_CHECK))
        finally:
            watch.disarm()

    def _gather(self, effect: Gather) -> list[object]:
        """Drive the sub-flows on up to ``limit`` threads; each one's value or the error that ended it."""
        from concurrent.futures import ThreadPoolExecutor

        def drive(flow: Flow[object]) -> object:
            try:
                return self.run(flow)
            except Exception as exc:  # handed back in order; the flow raises the first
                return exc

        with ThreadPoolExecutor(max_workers=min(effect.limit, len(effect.flows))) as pool:
            futures = [pool.submit(drive, flow) for flow in effect.flows]
            try:
                return [future.result() for future in futures]
            except BaseException:  # interrupted: start no more uploads
                for future, flow in zip(futures, effect.flows, strict=True):
                    if future.cancel():
                        flow.close()
                raise

    def _send(self, effect: Send) -> httpx.Response | Exception:
        deadline = self.deadline(effect)
        try:
            with active(deadline):
                request = self.request(effect, self.http, deadline)
                response = self.http.send(request, auth=self.auth, stream=True)
                try:
                    body = _collector(self.reply_cap, effect, deadline, response)
                    if response.is_stream_consumed:  # an in-memory reply (MockTransport): read already
                        body.add(response.content)
                    else:
                        for chunk in response.iter_raw():  # decoded by the collector, within the cap
                            body.add(chunk)
                finally:
                    response.close()  # a half-read connection is closed by httpcore, never reused
            self.log_reply(response)
            return _raw.record(replayed(response, body.content()))
        except _OUTCOMES as exc:
            return self.closed_error("closed during the call") if self.closed else exc
        except RuntimeError:  # httpx: "Cannot send a request, as the client has been closed."
            if self.closed:
                return self.closed_error("closed during the call")
            raise
        finally:
            if effect.request.close is not None:
                effect.request.close()

    def _fetch(self, effect: Fetch) -> Exception | None:
        sink = effect.sink
        deadlines = self.settings.deadlines
        clock = self.settings.clock
        started = clock()
        deadline = AttemptDeadline(started + deadlines.request, clock)  # until the headers arrive
        try:
            with (
                active(deadline),
                self.http.stream(
                    "GET",
                    effect.url,
                    headers=_HEADERS,
                    follow_redirects=True,
                    extensions={"timeout": clamp_timeout(self.http.timeout, deadlines.request)},
                ) as response,
            ):
                sink.start(response.status_code, response.headers)
                deadline.at = started + deadlines.download_budget(sink.declared or sink.max_bytes)
                if response.is_stream_consumed:  # an in-memory reply (MockTransport): read already
                    sink.write(response.content)
                else:
                    for chunk in response.iter_raw():  # decoded by the sink, within its cap
                        sink.write_raw(chunk)
                        deadline.check()
            sink.finish()
            return None
        except _OUTCOMES as exc:
            return self.closed_error("closed during a download", saving=True) if self.closed else exc
        except RuntimeError:
            if self.closed:
                return self.closed_error("closed during a download", saving=True)
            raise

    def fetch_all(self, task_id: str, sinks: Iterable[Sink]) -> None:
        """Download every sink (the one download path, whatever the sinks)."""
        for flow in self.fetches(task_id, sinks):  # type: ignore[arg-type]
            self.run(flow)

    def close(self) -> None:
        """Mark closed, release the scheduler, and close the pool we own."""
        self.closed = True
        self.scheduler.close()
        if self.owns_http:
            self.http.close()


class AsyncDriver(Engine):
    """Runs flows for ``AsyncClient``: tasks of the running event loop (asyncio or trio)."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None,
        http_client: httpx.AsyncClient | None,
        sleep: Callable[[float], Awaitable[object]] | None,
    ) -> None:
        super().__init__(settings)
        self.owns_http = http_client is None
        self.http = http_client or httpx.AsyncClient(
            timeout=settings.timeout,
            limits=settings.limits,
            transport=transport,
            cookies=NoCookies(),
            headers=_HEADERS,
        )
        self.sleep = async_sleep_for(settings.clock, sleep) or _asyncio_sleep

    @staticmethod
    def result(info: TaskInfo, client: Any) -> AsyncEditResult:
        """The public result of a finished task, downloading through ``client``."""
        return AsyncEditResult.from_info(info, client)

    @classmethod
    def outcome(cls, outcome: Task | TaskInfo, client: Any) -> AsyncEditResult | Task:
        """A created ``Task`` as it is (``wait=False``), else the public result."""
        return outcome if isinstance(outcome, Task) else cls.result(outcome, client)

    @staticmethod
    def run_outcome(outcome: Task | TaskInfo, client: Any) -> AsyncRunResult | Task:
        """``run``'s: a created ``Task`` as it is, else an ``AsyncRunResult`` (files and data)."""
        return outcome if isinstance(outcome, Task) else AsyncRunResult.from_info(outcome, client)

    @staticmethod
    def many(
        one: Callable[[I], Awaitable[R]],
        items: Iterable[I],
        limit: int,
        *,
        max_credits: float | None = None,
        credits: Callable[[], Awaitable[float]] | None = None,
    ) -> AsyncIterator[ItemOutcome[R]]:
        """``edit_many``/``wait_many``: ``one`` per item as tasks, up to ``limit`` at once (under a
        credit budget when ``max_credits`` is given: ``_spend``)."""
        return as_completed_async(one, items, limit, max_credits=max_credits, credits=credits)

    async def run(self, flow: Flow[T], on_progress: Callable[[TaskInfo], object] | None = None) -> T:
        """Drive ``flow`` to its value (or its error, masked)."""
        try:
            if self.closed:
                raise self.closed_error("create a new one")
            value: Any = None
            while True:
                try:
                    effect = flow.send(value)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                value = None
                if isinstance(effect, Send):
                    value = await self._send(effect)
                elif isinstance(effect, Fetch):
                    value = await self._fetch(effect)
                elif isinstance(effect, Sleep):
                    if effect.watch is None:
                        await self.sleep(effect.seconds)
                    else:
                        await self._pause(effect, effect.watch)
                elif isinstance(effect, Notify):
                    if on_progress is not None:
                        outcome = on_progress(effect.info)
                        if inspect.isawaitable(outcome):  # an ``async def`` callback
                            await outcome
                elif isinstance(effect, Take):
                    value = await self._take(effect)
                elif isinstance(effect, OpenStore):
                    import anyio

                    # A shared store opens over a file lock or the network: not on the event loop.
                    value = await anyio.to_thread.run_sync(self.open_store)
                elif isinstance(effect, Gather):
                    value = await self._gather(effect)
                else:
                    assert_never(effect)
        except KieError as exc:
            self.surface(exc)
            raise
        except BaseException as exc:
            _interrupted(flow, exc)  # cancelled: the exception names the task that goes on
            raise
        finally:
            # Cancelled (CancelledError, the caller's asyncio.timeout) or failed at any step: the flow
            # cleans up (a .part file, a log line naming a task that goes on) and the client stays usable.
            flow.close()

    async def _pause(self, effect: Sleep, watch: Watch) -> None:
        """Sleep through ``effect`` (the client's ``sleep``, so a scaled clock still applies) until word
        of its task's finish, which may come from this loop or from another thread."""
        import anyio
        import anyio.from_thread
        import anyio.lowlevel

        woken = anyio.Event()
        token = anyio.lowlevel.current_token()
        loop_thread = threading.get_ident()

        def wake() -> None:
            if threading.get_ident() == loop_thread:
                woken.set()
                return
            try:
                anyio.from_thread.run_sync(woken.set, token=token)
            except RuntimeError:  # the loop is gone: nobody is sleeping any more
                pass

        if not watch.arm(wake):
            return  # the word arrived while the poll was out
        try:
            async with anyio.create_task_group() as group:

                async def sleep() -> None:
                    await self.sleep(effect.seconds)
                    group.cancel_scope.cancel()

                group.start_soon(sleep)
                await woken.wait()
                group.cancel_scope.cancel()
        finally:
            watch.disarm()

    async def _take(self, effect: Take) -> float:
        if not self.scheduler.limits.shared:
            return self.scheduler.take(effect.ticket)
        import anyio

        # A shared store answers over a file lock or the network: not on the event loop.
        return await anyio.to_thread.run_sync(self.scheduler.take, effect.ticket)

    async def _gather(self, effect: Gather) -> list[object]:
        """Drive the sub-flows as tasks, up to ``limit`` at once; each one's value or its error."""
        import anyio

        outcomes: list[object] = [None] * len(effect.flows)
        limiter = anyio.CapacityLimiter(effect.limit)

        async def drive(index: int, flow: Flow[object]) -> None:
            async with limiter:
                try:
                    outcomes[index] = await self.run(flow)
                except Exception as exc:  # handed back in order; the flow raises the first
                    outcomes[index] = exc

        async with anyio.create_task_group() as group:
            for index, flow in enumerate(effect.flows):
                group.start_soon(drive, index, flow)
        return outcomes

    async def _send(self, effect: Send) -> httpx.Response | Exception:
        deadline = self.deadline(effect)
        try:
            async with _time_limit(max(deadline.left(), 0.0)):
                request = self.request(effect, self.http, deadline)
                response = await self.http.send(request, auth=self.auth, stream=True)
                try:
                    body = _collector(self.reply_cap, effect, deadline, response)
                    if response.is_stream_consumed:  # an in-memory reply (MockTransport): read already
                        body.add(response.content)
                    else:
                        async for chunk in response.aiter_raw():  # decoded by the collector, within the cap
                            body.add(chunk)
                finally:
                    await response.aclose()  # a half-read connection is closed by httpcore, never reused
            self.log_reply(response)
            return _raw.record(replayed(response, body.content()))
        except TimeoutError as exc:  # _time_limit's deadline: the request's total deadline passed
            if isinstance(exc, DeadlineExceeded):
                return exc
            error = DeadlineExceeded("the request's total deadline passed")
            error.__cause__ = exc
            return error
        except _OUTCOMES as exc:
            return self.closed_error("closed during the call") if self.closed else exc
        except RuntimeError:  # httpx: "Cannot send a request, as the client has been closed."
            if self.closed:
                return self.closed_error("closed during the call")
            raise
        finally:
            if effect.request.close is not None:
                effect.request.close()

    async def _fetch(self, effect: Fetch) -> Exception | None:
        import anyio

        sink = effect.sink
        deadlines = self.settings.deadlines
        started = anyio.current_time()
        try:
            with anyio.fail_after(deadlines.request) as scope:
                async with self.http.stream(
                    "GET",
                    effect.url,
                    headers=_HEADERS,
                    follow_redirects=True,
                    extensions={"timeout": clamp_timeout(self.http.timeout, deadlines.request)},
                ) as response:
                    sink.start(response.status_code, response.headers)
                    scope.deadline = started + deadlines.download_budget(sink.declared or sink.max_bytes)
                    if response.is_stream_consumed:  # an in-memory reply (MockTransport): read already
                        sink.write(response.content)
                    else:
                        async for chunk in response.aiter_raw():  # decoded by the sink, within its cap
                            sink.write_raw(chunk)
                sink.finish()
            return None
        except TimeoutError as exc:
            error = DeadlineExceeded("the download's total deadline passed")
            error.__cause__ = exc
            return error
        except _OUTCOMES as exc:
            return self.closed_error("closed during a download", saving=True) if self.closed else exc
        except RuntimeError:
            if self.closed:
                return self.closed_error("closed during a download", saving=True)
            raise

    async def fetch_all(self, task_id: str, sinks: Iterable[Sink]) -> None:
        """Download every sink (the one download path, whatever the sinks)."""
        for flow in self.fetches(task_id, sinks):  # type: ignore[arg-type]
            await self.run(flow)

    async def close(self) -> None:
        """Mark closed, release the scheduler, and close the pool we own."""
        self.closed = True
        self.scheduler.close()
        if self.owns_http:
            await self.http.aclose()


def _collector(cap: int, effect: Send, deadline: AttemptDeadline, response: httpx.Response) -> Collector:
    """The collector of ``response``'s body: raw bytes in, decoded under ``cap`` and ``deadline`` (an
    in-memory reply, read when it was built, is decoded already)."""
    encoding = None if response.is_stream_consumed else response.headers.get("content-encoding")
    return Collector(cap, effect.request.operation, deadline, response.status_code, encoding)


def _interrupted(flow: Flow[Any], exc: BaseException) -> None:
    """Hand a cancellation or an interrupt (``CancelledError``, ``KeyboardInterrupt``: not an
    ``Exception``) to the flow where it is suspended, so that the flow adds to ``exc`` what goes on
    without it (a created task's id and how to resume: ``Flows.wait``) before it ends. A flow that raised
    ``exc`` itself has ended already (its own handlers saw it)."""
    if isinstance(exc, Exception) or inspect.getgeneratorstate(flow) != inspect.GEN_SUSPENDED:
        return
    try:
        flow.throw(exc)
    except BaseException:  # noqa: S110 - the flow re-raised it (or ended otherwise): ``exc`` goes on
        pass


def _time_limit(seconds: float) -> contextlib.AbstractAsyncContextManager[object]:
    """A cancel scope raising ``TimeoutError`` after ``seconds``: asyncio's own under asyncio (about
    half the cost of anyio's on every request: issue 14), anyio's under any other loop (trio)."""
    if sniffio.current_async_library() == "asyncio":
        import asyncio

        return asyncio.timeout(seconds)
    return _anyio_time_limit(seconds)


@contextlib.asynccontextmanager
async def _anyio_time_limit(seconds: float) -> AsyncIterator[None]:
    import anyio  # httpx's own dependency; imported on first use like asyncio

    with anyio.fail_after(seconds):
        yield


async def _asyncio_sleep(seconds: float) -> None:
    # asyncio is imported on first use: sync users never pay for it.
    import asyncio

    await asyncio.sleep(seconds)
