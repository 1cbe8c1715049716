"""The emulator's core: state, routing and the handlers of every endpoint in the spec.

Pure request handling: ``Emulator.dispatch`` takes an ``httpx.Request`` and returns a ``Dispatch`` (a
reply plus what to do on the wire). The httpx transport, the socket server and the WSGI app are thin
front ends over it; they know it only through ``_exchange.Backend``, so this module imports them and
never the reverse (layers: ``_exchange``/``_tasks``/``_limits``/... < front ends < ``_core`` < ``_run``).
All state sits behind one lock.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import mimetypes
import random
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx

from .._inputs import sniff_image_type
from ._callbacks import (
    CallbackAttempt,
    CallbackHosts,
    PendingCallback,
    Ticker,
    build_request,
    callback_body,
    is_loopback_url,
    log_failure,
    send,
)
from ._exchange import Dispatch, Exchange, HostKind
from ._faults import ENDPOINTS, Fault, FaultPlan
from ._images import DEFAULT_MAX_IMAGE_SIDE, compose_result, image_size
from ._limits import LimitCounters, LimitState
from ._market import InputFile, create_problem, image_urls, result_size
from ._server import EmulatorServer, WSGIApp, make_wsgi_app
from ._tasks import OutcomePolicy, Schedule, Task, always_succeed
from ._transport import EmulatorTransport

if TYPE_CHECKING:
    from kie_gpt_image import AsyncClient, Client

__all__ = ["DEFAULT_API_KEY", "DEFAULT_TASK_COST", "DEFAULT_WEBHOOK_HMAC_KEY", "Emulator", "ErrorStatus"]

ErrorStatus = Literal["body", "http", "both"]
"""Where an error code travels: only in the body with HTTP 200 (what live clients see, the default),
only as the HTTP status, or both (reference, "The reply envelope and codes")."""

DEFAULT_API_KEY = "kie-emulator-key"
# kie.ai documents no per-task price for gpt-image/1.5: this cost is an assumption, configurable.
DEFAULT_TASK_COST = 4
DEFAULT_WEBHOOK_HMAC_KEY = "kie-emulator-webhook-hmac-key"

_NO_ACCESS = "You do not have access permissions"  # reference, "Hosts and auth"
_DOWNLOAD_LINK_SECONDS = 20 * 60  # reference §4: direct-download links last about 20 minutes
_UPLOAD_PREFIX = "kieai/market/"  # kie.ai's upload URLs look like .../kieai/market/<uploadPath>/<fileName>

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
_FILE_PREFIXES = ("/r/", "/d/", "/" + _UPLOAD_PREFIX)

_IN_PROCESS_URLS: Mapping[HostKind, str] = {
    "api": "https://api.kie-emulator.test",
    "upload": "https://upload.kie-emulator.test",
    "files": "https://files.kie-emulator.test",
}


def _json(status: int, payload: object, headers: Mapping[str, str] | None = None) -> httpx.Response:
    content = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return httpx.Response(
        status, headers={"Content-Type": "application/json", **(headers or {})}, content=content
    )


def _plain(status: int, text: str) -> httpx.Response:
    return httpx.Response(
        status, headers={"Content-Type": "text/plain; charset=utf-8"}, content=text.encode()
    )


def _sniff(content: bytes) -> str | None:
    # The upload host stores any file; it reports GIF too, beyond the three types tasks accept.
    sniffed = sniff_image_type(content[:16])
    if sniffed is not None:
        return sniffed[0]
    return "image/gif" if content[:6] in (b"GIF87a", b"GIF89a") else None


@dataclass
class _File:
    content: bytes
    mime_type: str


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
        credits: int = 1000,
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
        self._callback_transport = callback_transport
        self._callback_client: httpx.Client | None = None
        self._lock = threading.RLock()
        self._credits = credits
        self._tasks: dict[str, Task] = {}
        self._unsettled: list[Task] = []
        self._last_task_ms = 0
        self._create_times: list[float] = []
        self._limits = LimitState()
        self._random = random.Random(seed)  # noqa: S311 - task durations, not secrets
        self._files: dict[str, _File] = {}
        self._results: dict[str, bytes] = {}
        self._links: dict[str, tuple[str, float]] = {}
        self._calls: Counter[str] = Counter()
        self._exchanges: deque[Exchange] = deque(maxlen=max_exchanges)
        self._pending_callbacks: list[PendingCallback] = []
        self._callback_attempts: deque[CallbackAttempt] = deque(maxlen=max_exchanges)
        self._urls: dict[HostKind, str] = dict(_IN_PROCESS_URLS)
        self._known: dict[str, HostKind] = {
            urlsplit(url).netloc: host for host, url in _IN_PROCESS_URLS.items()
        }
        self._ticker: Ticker | None = None
        self._server: EmulatorServer | None = None
        self.transport = EmulatorTransport(self)
        """An httpx transport (sync and async) routing to the three in-process hosts."""

    # -- public surface ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Base URL of the API host (createTask, recordInfo, credits, download-url)."""
        return self._urls["api"]

    @property
    def upload_base_url(self) -> str:
        """Base URL of the upload host."""
        return self._urls["upload"]

    @property
    def files_base_url(self) -> str:
        """Base URL of the file host serving uploads and results (visibly not kie.ai)."""
        return self._urls["files"]

    @property
    def credits(self) -> int:
        """The current credit balance."""
        with self._lock:
            self._settle(self.clock())
            return self._credits

    @property
    def create_times(self) -> list[float]:
        """Clock times of every accepted createTask call, oldest first."""
        with self._lock:
            return list(self._create_times)

    @property
    def exchanges(self) -> list[Exchange]:
        """The requests the emulator processed or answered, with their replies, oldest first (the last
        ``max_exchanges`` of them)."""
        with self._lock:
            return list(self._exchanges)

    @property
    def callback_attempts_made(self) -> list[CallbackAttempt]:
        """Callback delivery attempts, oldest first (the last ``max_exchanges`` of them)."""
        with self._lock:
            return list(self._callback_attempts)

    @property
    def failed_callbacks(self) -> list[CallbackAttempt]:
        """The callback delivery attempts that failed (refused, an error, or a non-2xx status)."""
        with self._lock:
            return [attempt for attempt in self._callback_attempts if not attempt.delivered]

    @property
    def limit_counters(self) -> LimitCounters:
        """What the three limits did so far: 429s answered per limit, peak running tasks, and the most
        recordInfo polls in any one second of the emulator's clock."""
        with self._lock:
            now = self.clock()
            self._settle(now)
            return self._limits.counters(sum(not task.is_final(now) for task in self._unsettled))

    def call_count(self, endpoint: str) -> int:
        """How many requests reached ``endpoint`` (an operationId or ``"files"``), faulted ones included."""
        with self._lock:
            return self._calls[endpoint]

    def task_record(self, task_id: str) -> dict[str, Any] | None:
        """The recordInfo ``data`` of ``task_id`` now, or ``None`` if there is no such task."""
        with self._lock:
            task = self._tasks.get(task_id)
            return None if task is None else task.record(self.clock(), self._result_url(task))

    def deliver_due_callbacks(self) -> int:
        """Attempt every callback that is due (one attempt each); return how many were delivered."""
        with self._lock:
            now = self.clock()
            self._settle(now)
            due = [p for p in self._pending_callbacks if p.due <= now and not p.in_flight]
            jobs: list[tuple[PendingCallback, httpx.Request]] = []
            for pending in due:
                task = self._tasks[pending.task_id]
                body = callback_body(task.record(now, self._result_url(task)))
                try:
                    request = build_request(pending.url, body, task.task_id, self.webhook_hmac_key, int(now))
                except httpx.InvalidURL:
                    self._pending_callbacks.remove(
                        pending
                    )  # undeliverable; createTask validation prevents it
                    continue
                pending.in_flight = True
                jobs.append((pending, request))
        delivered = 0
        for pending, request in jobs:
            status: int | None
            error: str | None
            if self.callback_hosts == "loopback" and not is_loopback_url(pending.url):
                # Never resolved, never contacted: an offline emulator must not reach the internet.
                status, error = (
                    None,
                    (
                        f"refused: {request.url.host!r} is not a loopback host "
                        "(pass callback_hosts='any' to deliver to other hosts)"
                    ),
                )
            else:
                status, error = send(self._client(), request)
            with self._lock:
                pending.in_flight = False
                pending.attempts += 1
                attempt = CallbackAttempt(pending.task_id, pending.attempts, request, status, error)
                self._callback_attempts.append(attempt)
                final = attempt.delivered or attempt.refused or pending.attempts >= self.callback_attempts
                if final:
                    self._pending_callbacks.remove(pending)
                else:
                    pending.due = self.clock() + self.callback_retry_delay
                delivered += attempt.delivered
            if not attempt.delivered:
                log_failure(attempt, self.callback_attempts, final=final)
        return delivered

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
            client, self._callback_client = self._callback_client, None
        if ticker is not None:
            ticker.stop()
        if server is not None:
            server.stop()
        if client is not None:
            client.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- hooks for the socket server -----------------------------------------------------------

    def _use_urls(self, urls: Mapping[HostKind, str] | None, server: object = None) -> None:
        with self._lock:
            self._urls = dict(urls or _IN_PROCESS_URLS)
            for host, url in self._urls.items():
                self._known[urlsplit(url).netloc] = host
            if urls is None and self._server is server:
                self._server = None

    # -- dispatch --------------------------------------------------------------------------------

    def host_of(self, request: httpx.Request) -> HostKind | None:
        """Which emulator host ``request`` is addressed to (by host name and port), if any."""
        with self._lock:
            return self._known.get(request.url.netloc.decode("ascii"))

    def dispatch(self, request: httpx.Request, host: HostKind | None = None) -> Dispatch:
        """Handle one request (its body already read) addressed to ``host`` (``None``: route by path).

        Returns the reply and the wire effect of any injected fault; records the exchange.
        """
        path = request.url.path
        if host is None:
            host = _PATH_HOSTS.get(path) or ("files" if path.startswith(_FILE_PREFIXES) else "api")
        endpoint, handler = self._route(host, request.method, path)
        with self._lock:
            self._calls[endpoint] += 1
            fault = self.faults.lookup(endpoint, self._calls[endpoint]) if endpoint in ENDPOINTS else None
        if fault is not None and fault.kind == "drop_before":
            return Dispatch(endpoint, None, "drop_before")
        if fault is not None and not fault.processes:
            response = self._fault_reply(fault, upload=host == "upload")
        else:
            response = handler(request)
            if fault is not None:
                response = self._reshape(fault, response)
        with self._lock:
            self._exchanges.append(Exchange(endpoint, request, response, fault.kind if fault else None))
        if fault is not None and fault.kind in ("drop_after", "delay", "trickle"):
            return Dispatch(endpoint, response, fault.kind, fault.seconds)
        return Dispatch(endpoint, response)

    def _route(
        self, host: HostKind, method: str, path: str
    ) -> tuple[str, Callable[[httpx.Request], httpx.Response]]:
        if host == "files":
            if method in ("GET", "HEAD"):
                return "files", self._serve_file
            return "unknown", lambda request: _plain(405, "Method Not Allowed")
        route = _ROUTES.get((host, path))
        if route is None:
            upload = host == "upload"
            return "unknown", lambda request: self._error(404, "Not Found", upload=upload)
        expected, endpoint = route
        if method != expected:
            upload = host == "upload"
            return "unknown", lambda request: self._error(
                405, "Method Not Allowed", upload=upload, status=405
            )
        handler: Callable[[httpx.Request], httpx.Response] = {
            "gpt-image-1-5-image-to-image": self._create_task,
            "get-task-details": self._record_info,
            "get-account-credits": self._get_credits,
            "get-download-url": self._download_url,
            "upload-file-stream": self._upload_stream,
            "upload-file-base64": self._upload_base64,
            "upload-file-url": self._upload_url,
        }[endpoint]
        return endpoint, handler

    # -- envelopes -------------------------------------------------------------------------------

    def _ok(self, data: object) -> httpx.Response:
        return _json(200, {"code": 200, "msg": "success", "data": data})

    def _error(
        self,
        code: int,
        msg: str,
        *,
        upload: bool = False,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """An error envelope, its code placed per ``error_status`` (``status`` forces the HTTP status)."""
        body: dict[str, Any] = {"success": False} if upload else {}
        if self.error_status != "http" or status is not None:
            body["code"] = code
        body["msg"] = msg
        if self.error_data_null:
            body["data"] = None
        http_status = status if status is not None else (200 if self.error_status == "body" else code)
        return _json(http_status, body, headers)

    def _fault_reply(self, fault: Fault, *, upload: bool) -> httpx.Response:
        if fault.kind == "http_error":
            return httpx.Response(
                fault.status, headers={"Content-Type": "text/html"}, content=fault.html_page()
            )
        if fault.kind == "non_json":
            return _plain(200, "Service temporarily unavailable, please try again later.")
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
        messages = {
            429: "Rate limit exceeded",
            455: "Service unavailable: maintenance",
            500: "Server error",
            505: "Feature disabled",
        }
        return self._error(fault.status, messages.get(fault.status, "Error"), upload=upload, headers=headers)

    @staticmethod
    def _reshape(fault: Fault, response: httpx.Response) -> httpx.Response:
        status = fault.status if fault.kind == "http_status" else response.status_code
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-length"]
        if fault.kind == "oversized":
            headers.append(("Content-Encoding", "gzip"))
        return httpx.Response(status, headers=headers, content=fault.reshape(response.content))

    def _authorized(self, request: httpx.Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.api_key.encode()
        )

    # -- API host --------------------------------------------------------------------------------

    def _create_task(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return self._error(401, _NO_ACCESS)
        try:
            body = json.loads(request.content)
        except ValueError:
            return self._error(422, "request body must be JSON")
        problem = create_problem(body, self._input_file)
        if problem is not None:
            return self._error(422, problem)
        outcome = self.outcome(body)
        with self._lock:
            now = self.clock()
            self._settle(now)
            refusal = self._limits.refuse_create(
                now,
                len(self._unsettled),
                rate_limit=self.rate_limit,
                rate_window=self.rate_window,
                max_running=self.max_running,
            )
            if refusal is not None:
                # Reference §6: excess requests get 429 and are not queued.
                return self._error(429, refusal)
            if self._credits < self.task_cost:
                return self._error(402, "Insufficient credits")
            self._credits -= self.task_cost
            self._create_times.append(now)
            # Ids look like kie.ai's (task_gpt-image_<epoch ms>), kept unique under a frozen clock.
            self._last_task_ms = max(int(now * 1000), self._last_task_ms + 1)
            schedule = self.schedule.for_task(self._random)
            task = Task(f"task_gpt-image_{self._last_task_ms}", body, now, outcome, self.task_cost, schedule)
            self._tasks[task.task_id] = task
            self._unsettled.append(task)
            self._limits.created(now, len(self._unsettled) - task.is_final(now))
        return self._ok({"taskId": task.task_id})

    def _record_info(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return self._error(401, _NO_ACCESS)
        task_id = request.url.params.get("taskId", "")
        with self._lock:
            now = self.clock()
            self._settle(now)
            refusal = self._limits.refuse_poll(now, poll_limit=self.poll_limit, poll_window=self.poll_window)
            if refusal is not None:
                # Reference §2/§6: polling is limited to about 10 requests per second per key.
                return self._error(429, refusal)
            task = self._tasks.get(task_id)
            if task is None:
                if self.unknown_task_code == 422:
                    return self._error(422, "recordInfo is null")  # newer specs (reference §2)
                return self._error(404, "Task not found")
            return self._ok(task.record(now, self._result_url(task)))

    def _get_credits(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return self._error(401, _NO_ACCESS)
        return self._ok(self.credits)

    def _download_url(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return self._error(401, _NO_ACCESS)
        try:
            body = json.loads(request.content)
        except ValueError:
            return self._error(422, "request body must be JSON")
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url:
            return self._error(422, "url is required")
        key = self._own_file_key(url)
        if key is None or self._file(key) is None:
            # Reference §4: only files kie.ai generated; an external URL gets code 422.
            return self._error(422, "Only files generated by this service can be downloaded")
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._links[token] = (key, self.clock() + _DOWNLOAD_LINK_SECONDS)
            name = quote(key.rsplit("/", 1)[-1])
            return self._ok(f"{self.files_base_url}/d/{name}?token={token}")

    # -- upload host (reference §3) --------------------------------------------------------------

    def _upload_reply(
        self, upload_path: object, file_name: object, content: bytes, mime: str | None
    ) -> httpx.Response:
        if not isinstance(upload_path, str) or not upload_path.strip("/"):
            return self._error(400, "uploadPath is required", upload=True)
        if file_name is not None and (not isinstance(file_name, str) or not file_name.strip("/")):
            return self._error(400, "fileName must be a non-empty string", upload=True)
        mime = _sniff(content) or mime or (mimetypes.guess_type(file_name)[0] if file_name else None)
        mime = mime or "application/octet-stream"
        if file_name is None:
            # Without fileName kie.ai generates a random one (reference §3).
            file_name = secrets.token_hex(8) + (mimetypes.guess_extension(mime) or "")
        path = f"{upload_path.strip('/')}/{file_name.strip('/')}"
        with self._lock:
            now = self.clock()
            # A same fileName overwrites the earlier file (reference §3).
            self._files[_UPLOAD_PREFIX + path] = _File(content, mime)
            stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            url = f"{self.files_base_url}/{_UPLOAD_PREFIX}{quote(path)}"
        data = {
            "fileName": file_name.strip("/"),
            "filePath": path,
            "downloadUrl": url,
            "fileSize": len(content),
            "mimeType": mime,
            "uploadedAt": stamp,
        }
        return _json(200, {"success": True, "code": 200, "msg": "File uploaded successfully", "data": data})

    def _upload_stream(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return self._error(401, _NO_ACCESS, upload=True)
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            return self._error(400, "expected multipart/form-data", upload=True)
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + request.content
        )
        fields: dict[str, tuple[bytes, str | None]] = {}
        parts: Iterable[Message] = message.get_payload() if message.is_multipart() else []  # type: ignore[assignment]
        for part in parts:
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = (payload, part.get_content_type() if part.get("content-type") else None)
        if "file" not in fields:
            return self._error(400, "file is required", upload=True)
        content, mime = fields["file"]
        upload_path = fields["uploadPath"][0].decode("utf-8", "replace") if "uploadPath" in fields else None
        file_name = fields["fileName"][0].decode("utf-8", "replace") if "fileName" in fields else None
        return self._upload_reply(upload_path, file_name, content, mime)

    def _json_body(self, request: httpx.Request) -> dict[str, Any] | None:
        try:
            body = json.loads(request.content)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _upload_base64(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return self._error(401, _NO_ACCESS, upload=True)
        body = self._json_body(request)
        data = body.get("base64Data") if body else None
        if body is None or not isinstance(data, str):
            return self._error(400, "base64Data is required", upload=True)
        mime: str | None = None
        if data.startswith("data:"):
            # Reference §3: plain base64 or a data URL.
            header, _, data = data.partition(",")
            mime = header[5:].split(";", 1)[0] or None
        try:
            content = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return self._error(400, "base64Data is not valid base64", upload=True)
        return self._upload_reply(body.get("uploadPath"), body.get("fileName"), content, mime)

    def _upload_url(self, request: httpx.Request) -> httpx.Response:
        if not self._authorized(request):
            return self._error(401, _NO_ACCESS, upload=True)
        body = self._json_body(request)
        url = body.get("fileUrl") if body else None
        if body is None or not isinstance(url, str) or not url:
            return self._error(400, "fileUrl is required", upload=True)
        # The emulator never makes network requests: it can "download" only what its own file host
        # serves. Anything else fails like a download the server could not complete: code 500 (one of
        # the documented upload errors, reference §3; the exact message is not documented).
        key = self._own_file_key(url)
        stored = self._file(key) if key is not None else None
        if stored is None:
            return self._error(500, f"Failed to download file from URL: {url}", upload=True)
        file_name = body.get("fileName")
        if file_name is None:
            file_name = key.rsplit("/", 1)[-1] if key else None
        return self._upload_reply(body.get("uploadPath"), file_name, stored.content, stored.mime_type)

    # -- file host ---------------------------------------------------------------------------------

    def _own_file_key(self, url: str) -> str | None:
        """The file-store key of ``url`` if it points at this emulator's file host."""
        parts = urlsplit(url)
        with self._lock:
            if self._known.get(parts.netloc) != "files":
                return None
            key = parts.path.lstrip("/")
            if key.startswith("d/"):
                token = parse_qs(parts.query).get("token", [""])[0]
                link = self._links.get(token)
                return link[0] if link else None
        return unquote(key)

    def _file(self, key: str) -> _File | None:
        """The stored file at ``key``, generating a task's result image on first use."""
        if not key.startswith("r/"):
            with self._lock:
                return self._files.get(key)
        task_id = key[2:].removesuffix(".png")
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.state(self.clock()) != "success" or key != f"r/{task_id}.png":
                return None
            cached = self._results.get(task_id)
            inputs = [(url, self._input_bytes(url)) for url in image_urls(task.body)]
        if cached is None:
            # Generated outside the lock: Pillow work must not stall other requests. An "auto" ratio
            # takes the proportions of the first input image the emulator holds (a readable one).
            input_size = next(
                (size for _, content in inputs if content is not None and (size := image_size(content))), None
            )
            size = result_size(task.body, input_size, self.max_image_side)
            cached = compose_result(inputs, str(task.input.get("prompt", "")), size)
            with self._lock:
                cached = self._results.setdefault(task_id, cached)
        return _File(cached, "image/png")

    def _input_file(self, url: str) -> InputFile:
        """What this emulator holds at an input image URL (createTask checks the image field with it)."""
        with self._lock:
            if self._known.get(urlsplit(url).netloc) != "files":
                return InputFile(hosted=False)
            key = self._own_file_key(url)
            if key is not None and key.startswith("r/"):
                task_id = key[2:].removesuffix(".png")
                task = self._tasks.get(task_id)
                ready = (
                    task is not None and task.state(self.clock()) == "success" and key == f"r/{task_id}.png"
                )
                return InputFile(True, "image/png" if ready else None, len(self._results.get(task_id, b"")))
            stored = self._files.get(key) if key is not None else None
            if stored is None:
                return InputFile(hosted=True)
            return InputFile(True, stored.mime_type, len(stored.content))

    def _input_bytes(self, url: str) -> bytes | None:
        key = self._own_file_key(url)
        if key is None:
            return None  # a foreign URL: never fetched, drawn as a placeholder
        if key.startswith("r/"):
            return self._results.get(key[2:].removesuffix(".png"))
        stored = self._files.get(key)
        return stored.content if stored else None

    def _serve_file(self, request: httpx.Request) -> httpx.Response:
        key = request.url.path.lstrip("/")  # httpx's URL.path is already percent-decoded
        if key.startswith("d/"):
            with self._lock:
                link = self._links.get(request.url.params.get("token", ""))
                now = self.clock()
            if link is None:
                return _plain(404, "Not Found")
            if link[1] < now:
                return _plain(403, "Link expired")
            key = link[0]
        stored = self._file(key)
        if stored is None:
            return _plain(404, "Not Found")
        content = b"" if request.method == "HEAD" else stored.content
        return httpx.Response(200, headers={"Content-Type": stored.mime_type}, content=content)

    def _result_url(self, task: Task) -> str:
        return f"{self._urls['files']}/r/{task.task_id}.png"

    # -- settlement and callbacks ------------------------------------------------------------------

    def _settle(self, now: float) -> None:
        """Book what tasks that became final imply: refunds for failures, callbacks to send. Lock held."""
        still: list[Task] = []
        for task in self._unsettled:
            if not task.is_final(now):
                still.append(task)
                continue
            task.settled = True
            if task.outcome.failed:
                self._credits += task.cost
            if task.callback_url:
                self._pending_callbacks.append(PendingCallback(task.task_id, task.callback_url, now))
        self._unsettled = still

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._callback_client is None:
                # Reference §5: kie waits 15 s for the receiver's reply.
                # No proxies from the environment: a proxy is another host (see ``callback_hosts``).
                self._callback_client = httpx.Client(
                    transport=self._callback_transport, timeout=15.0, trust_env=False
                )
            return self._callback_client
