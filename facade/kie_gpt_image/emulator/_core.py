"""The emulator's core: its options, its public surface, and the routing of every request to a handler.

Pure request handling: ``Emulator.dispatch`` takes an ``httpx.Request`` and returns a ``Dispatch`` (a
reply plus what to do on the wire). The handlers live in their own modules below this one, over the
books in ``_state`` (one lock): tasks and credits in ``_handlers``, the upload and file hosts in
``_uploads``, callback delivery in ``_delivery``, result files in ``_results``, envelopes in ``_replies``.
The httpx transport, the socket server and the WSGI app are thin front ends that know the core only
through ``_exchange.Backend``, so this module imports them and never the reverse (layers: ``_exchange``/
``_tasks``/``_limits``/... < ``_state`` < handlers < front ends < ``_core`` < ``_run``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import httpx

from ._callbacks import CallbackAttempt, CallbackHosts, Ticker
from ._delivery import CallbackDelivery
from ._exchange import Dispatch, Exchange, HostKind
from ._faults import ENDPOINTS, FaultPlan
from ._handlers import TaskHandlers
from ._images import DEFAULT_MAX_IMAGE_SIDE
from ._limits import LimitCounters
from ._replies import ErrorStatus, error_reply, fault_reply, plain_reply, reshape
from ._server import EmulatorServer, WSGIApp, make_wsgi_app
from ._state import State
from ._stats import STATS_PATH, EmulatorStats, collect_stats, stats_reply
from ._tasks import OutcomePolicy, Schedule, always_succeed
from ._transport import EmulatorTransport
from ._uploads import UPLOAD_PREFIX, FileStore

if TYPE_CHECKING:
    from kie_gpt_image import AsyncClient, Client

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_CREDITS",
    "DEFAULT_TASK_COST",
    "DEFAULT_WEBHOOK_HMAC_KEY",
    "Emulator",
    "ErrorStatus",
]

DEFAULT_API_KEY = "kie-emulator-key"
# kie.ai documents no per-task price for gpt-image/1.5: this cost is an assumption, configurable.
DEFAULT_TASK_COST = 4
DEFAULT_CREDITS = 1000
DEFAULT_WEBHOOK_HMAC_KEY = "kie-emulator-webhook-hmac-key"

_ROUTES: Mapping[tuple[HostKind, str], tuple[str, str]] = {
    ("api", "/api/v1/jobs/createTask"): ("POST", "gpt-image-1-5-image-to-image"),
    ("api", "/api/v1/jobs/recordInfo"): ("GET", "get-task-details"),
    ("api", "/api/v1/chat/credit"): ("GET", "get-account-credits"),
    ("api", "/api/v1/common/download-url"): ("POST", "get-download-url"),
    ("upload", "/api/file-stream-upload"): ("POST", "upload-file-stream"),
    ("upload", "/api/file-base64-upload"): ("POST", "upload-file-base64"),
    ("upload", "/api/file-url-upload"): ("POST", "upload-file-url"),
}
_PATH_HOSTS: Mapping[str, HostKind] = {path: host for host, path in _ROUTES}
_FILE_PREFIXES = ("/r/", "/d/", "/" + UPLOAD_PREFIX)

Handler = Callable[[httpx.Request], httpx.Response]


class Emulator:
    """An offline kie.ai: the API, upload and file hosts in one thread-safe object.

    Use ``transport`` with ``httpx.Client``/``httpx.AsyncClient`` in-process, or ``serve()`` for real
    loopback sockets, or ``wsgi_app`` for WSGI tools. Every option has a documented default.

    Args:
        api_key: The only Bearer key accepted.
        credits: Starting credit balance.
        task_cost: Credits charged per task (an assumption; kie.ai documents no price); refunded on ``fail``.
        schedule: Seconds per state; ``Schedule.instant()`` for tests, ``Schedule.uniform(20, 90)`` for
            durations drawn like real gpt-image tasks.
        clock: Seconds since the epoch (default ``time.time``); inject a fake to drive the schedule and the
            limits' windows, or a ``ScaledClock`` to play real durations back faster.
        seed: Seeds the generator task durations are drawn from (``None``: unseeded), for reproducible runs.
        outcome: Decides from the createTask body how each task ends (default: success).
        error_status: ``"body"`` (HTTP 200, code in the body), ``"http"`` or ``"both"``.
        error_data_null: Send ``"data": null`` in error envelopes (as kie.ai documents) rather than no
            ``data`` key (which is what the published spec can describe).
        unknown_task_code: 404 (``"Task not found"``) or 422 (newer ``"recordInfo is null"``).
        rate_limit: Accepted createTask calls per ``rate_window`` seconds (reference §6: 20 per 10 s);
            over it, createTask is answered code 429.
        rate_window: The rate-limit window in seconds.
        max_running: Tasks running (created, not yet final) at once (reference §6: about 100); a
            createTask over it is answered code 429.
        poll_limit: Accepted recordInfo calls per ``poll_window`` seconds (reference §2/§6: about 10 per
            second); over it, recordInfo is answered code 429.
        poll_window: The poll-limit window in seconds.
        faults: A ``FaultPlan`` (default: an empty one, available as ``faults``).
        webhook_hmac_key: The key callbacks are signed with (kie.ai's "webhook HMAC key").
        callback_transport: httpx transport for callback delivery (default: the network, without proxies).
        callback_hosts: ``"loopback"``: deliver only to loopback hosts (judged from the URL, never
            resolved), refusing and logging any other; ``"any"``: deliver anywhere. Default: ``"loopback"``
            when delivering over the network, ``"any"`` when ``callback_transport`` decides where requests go.
        callback_attempts: Deliveries attempted per callback before giving up (reference §5: 3).
        callback_retry_delay: Seconds between delivery attempts.
        sleep: Used by ``Fault.delay`` in-process; without it a delay raises ``httpx.ReadTimeout``.
        max_exchanges: How many recent exchanges and callback attempts are kept (older ones are dropped,
            so a server running for hours does not grow without bound); ``None`` keeps all.
        max_image_side: Result images larger than this on their long side (gpt-image-2's 2K and 4K) are
            scaled down to it, their proportions kept, so they stay cheap; ``None`` renders full size.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        credits: int = DEFAULT_CREDITS,
        task_cost: int = DEFAULT_TASK_COST,
        schedule: Schedule | None = None,
        clock: Callable[[], float] = time.time,
        outcome: OutcomePolicy = always_succeed,
        error_status: ErrorStatus = "body",
        error_data_null: bool = True,
        unknown_task_code: Literal[404, 422] = 404,
        rate_limit: int = 20,
        rate_window: float = 10.0,
        max_running: int = 100,
        poll_limit: int = 10,
        poll_window: float = 1.0,
        seed: int | None = 0,
        faults: FaultPlan | None = None,
        webhook_hmac_key: str = DEFAULT_WEBHOOK_HMAC_KEY,
        callback_transport: httpx.BaseTransport | None = None,
        callback_hosts: CallbackHosts | None = None,
        callback_attempts: int = 3,
        callback_retry_delay: float = 0.0,
        sleep: Callable[[float], None] | None = None,
        max_exchanges: int | None = 1000,
        max_image_side: int | None = DEFAULT_MAX_IMAGE_SIDE,
    ) -> None:
        self.api_key = api_key
        self.task_cost = task_cost
        self.schedule = schedule if schedule is not None else Schedule()
        self.clock = clock
        self.outcome = outcome
        self.error_status: ErrorStatus = error_status
        self.error_data_null = error_data_null
        self.unknown_task_code = unknown_task_code
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.max_running = max_running
        self.poll_limit = poll_limit
        self.poll_window = poll_window
        self.faults = faults if faults is not None else FaultPlan()
        self.webhook_hmac_key = webhook_hmac_key
        self.callback_hosts: CallbackHosts = callback_hosts or (
            "loopback" if callback_transport is None else "any"
        )
        self.callback_attempts = callback_attempts
        self.callback_retry_delay = callback_retry_delay
        self.sleep = sleep
        self.max_image_side = max_image_side
        self._state = State(credits=credits, seed=seed, max_exchanges=max_exchanges)
        self._lock = self._state.lock
        self._files = FileStore(self._state, self)
        self._tasks = TaskHandlers(self._state, self, self._files)
        self._delivery = CallbackDelivery(self._state, self, self._tasks.record, callback_transport)
        self._handlers: Mapping[str, Handler] = {
            "gpt-image-1-5-image-to-image": self._tasks.create_task,
            "get-task-details": self._tasks.record_info,
            "get-account-credits": self._tasks.credits,
            "get-download-url": self._files.download_url,
            "upload-file-stream": self._files.upload_stream,
            "upload-file-base64": self._files.upload_base64,
            "upload-file-url": self._files.upload_url,
        }
        self._ticker: Ticker | None = None
        self._server: EmulatorServer | None = None
        self.transport = EmulatorTransport(self)
        """An httpx transport (sync and async) routing to the three in-process hosts."""

    # -- public surface ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Base URL of the API host (createTask, recordInfo, credits, download-url)."""
        return self._state.urls["api"]

    @property
    def upload_base_url(self) -> str:
        """Base URL of the upload host."""
        return self._state.urls["upload"]

    @property
    def files_base_url(self) -> str:
        """Base URL of the file host serving uploads and results (visibly not kie.ai)."""
        return self._state.urls["files"]

    @property
    def credits(self) -> int:
        """The current credit balance."""
        with self._lock:
            self._state.settle(self.clock())
            return self._state.credits

    @credits.setter
    def credits(self, balance: int) -> None:
        """Set the balance (a test of what a low balance does)."""
        with self._lock:
            self._state.settle(self.clock())
            self._state.credits = balance

    @property
    def create_times(self) -> list[float]:
        """Clock times of every accepted createTask call, oldest first."""
        with self._lock:
            return list(self._state.create_times)

    @property
    def exchanges(self) -> list[Exchange]:
        """The requests the emulator processed or answered, with their replies, oldest first (the last
        ``max_exchanges`` of them)."""
        with self._lock:
            return list(self._state.exchanges)

    @property
    def callback_attempts_made(self) -> list[CallbackAttempt]:
        """Callback delivery attempts, oldest first (the last ``max_exchanges`` of them)."""
        with self._lock:
            return list(self._state.callback_attempts)

    @property
    def failed_callbacks(self) -> list[CallbackAttempt]:
        """The callback delivery attempts that failed (refused, an error, or a non-2xx status)."""
        with self._lock:
            return [attempt for attempt in self._state.callback_attempts if not attempt.delivered]

    @property
    def limit_counters(self) -> LimitCounters:
        """What the three limits did so far: 429s answered per limit, peak running tasks, and the most
        recordInfo polls in any one second of the emulator's clock."""
        with self._lock:
            now = self.clock()
            self._state.settle(now)
            return self._state.limits.counters(self._state.running(now))

    def call_count(self, endpoint: str) -> int:
        """How many requests reached ``endpoint`` (an operationId or ``"files"``), faulted ones included."""
        with self._lock:
            return self._state.calls[endpoint]

    def task_record(self, task_id: str) -> dict[str, Any] | None:
        """The recordInfo ``data`` of ``task_id`` now, or ``None`` if there is no such task."""
        with self._lock:
            task = self._state.tasks.get(task_id)
            return None if task is None else self._tasks.record(task, self.clock())

    def stats(self) -> EmulatorStats:
        """A snapshot of the counters: calls, 429s, credits used and left, tasks by state (what a served
        emulator answers at ``GET /_emulator/stats``)."""
        with self._lock:
            return collect_stats(self._state, self.task_cost, self.clock())

    def deliver_due_callbacks(self) -> int:
        """Attempt every callback that is due (one attempt each); return how many were delivered."""
        return self._delivery.deliver_due()

    def client(self, **options: Any) -> Client:
        """A ``kie_gpt_image.Client`` wired to this emulator in-process (no sockets, no key needed).

        ``options`` go to ``Client`` (e.g. ``poll_policy``, ``sleep``); plain-http callback URLs are
        allowed, since receivers in tests listen on loopback.
        """
        from kie_gpt_image import Client

        options.setdefault("allow_http_callback", True)
        return Client(
            api_key=self.api_key,
            base_url=self.base_url,
            upload_base_url=self.upload_base_url,
            transport=self.transport,
            **options,
        )

    def async_client(self, **options: Any) -> AsyncClient:
        """A ``kie_gpt_image.AsyncClient`` wired to this emulator in-process (see ``client``)."""
        from kie_gpt_image import AsyncClient

        options.setdefault("allow_http_callback", True)
        return AsyncClient(
            api_key=self.api_key,
            base_url=self.base_url,
            upload_base_url=self.upload_base_url,
            transport=self.transport,
            **options,
        )

    def start_ticker(self, interval: float = 0.1) -> None:
        """Deliver due callbacks from a background thread every ``interval`` seconds until ``close()``."""
        with self._lock:
            if self._ticker is None:
                self._ticker = Ticker(self.deliver_due_callbacks, interval)
                self._ticker.start()

    def serve(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        upload_port: int | None = None,
        files_port: int | None = None,
    ) -> EmulatorServer:
        """Start real HTTP servers on loopback (API on ``port``, upload and files on the next two ports, or
        ephemeral ones when ``port`` is 0) plus the callback ticker. Use as a context manager."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("this emulator is already serving")
            server = EmulatorServer(self, host, port, upload_port, files_port)
            self._server = server
        try:
            server.start()
        except BaseException:
            with self._lock:
                self._server = None
            raise
        return server

    @property
    def wsgi_app(self) -> WSGIApp:
        """The core as a WSGI application (routes by path: all three hosts on one origin)."""
        return make_wsgi_app(self)

    def close(self) -> None:
        """Stop the ticker and any server, and close the callback client."""
        with self._lock:
            ticker, self._ticker = self._ticker, None
            server = self._server
        if ticker is not None:
            ticker.stop()
        if server is not None:
            server.stop()
        self._delivery.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- hooks for the socket server -----------------------------------------------------------

    def _use_urls(self, urls: Mapping[HostKind, str] | None, server: object = None) -> None:
        with self._lock:
            self._state.use_urls(urls)
            if urls is None and self._server is server:
                self._server = None

    def _client(self) -> httpx.Client:
        """The client callbacks are sent with."""
        return self._delivery.client()

    # -- dispatch --------------------------------------------------------------------------------

    def host_of(self, request: httpx.Request) -> HostKind | None:
        """Which emulator host ``request`` is addressed to (by host name and port), if any."""
        with self._lock:
            return self._state.known.get(request.url.netloc.decode("ascii"))

    def dispatch(self, request: httpx.Request, host: HostKind | None = None) -> Dispatch:
        """Handle one request (its body already read) addressed to ``host`` (``None``: route by path).

        Returns the reply and the wire effect of any injected fault; records the exchange.
        """
        path = request.url.path
        if path == STATS_PATH:
            # Outside the emulated API: not counted, not faulted, not recorded as an exchange.
            return Dispatch("stats", stats_reply(request, self.stats()))
        if host is None:
            host = _PATH_HOSTS.get(path) or ("files" if path.startswith(_FILE_PREFIXES) else "api")
        endpoint, handler = self._route(host, request.method, path)
        state = self._state
        with self._lock:
            state.calls[endpoint] += 1
            fault = self.faults.lookup(endpoint, state.calls[endpoint]) if endpoint in ENDPOINTS else None
        if fault is not None and fault.kind == "drop_before":
            return Dispatch(endpoint, None, "drop_before")
        if fault is not None and not fault.processes:
            response = fault_reply(self, fault, upload=host == "upload")
        else:
            response = handler(request)
            if fault is not None:
                response = reshape(fault, response)
        with self._lock:
            state.exchanges.append(Exchange(endpoint, request, response, fault.kind if fault else None))
        if fault is not None and fault.kind in ("drop_after", "delay", "trickle"):
            return Dispatch(endpoint, response, fault.kind, fault.seconds)
        return Dispatch(endpoint, response)

    def _route(self, host: HostKind, method: str, path: str) -> tuple[str, Handler]:
        if host == "files":
            if method in ("GET", "HEAD"):
                return "files", self._files.serve_file
            return "unknown", lambda request: plain_reply(405, "Method Not Allowed")
        upload = host == "upload"
        route = _ROUTES.get((host, path))
        if route is None:
            return "unknown", lambda request: error_reply(self, 404, "Not Found", upload=upload)
        expected, endpoint = route
        if method != expected:
            return "unknown", lambda request: error_reply(
                self, 405, "Method Not Allowed", upload=upload, status=405
            )
        return endpoint, self._handlers[endpoint]
