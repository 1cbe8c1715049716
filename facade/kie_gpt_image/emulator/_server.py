"""The socket front end (three loopback HTTP/1.1 servers) and the WSGI front end.

Each of the API, upload and file hosts gets its own port, so result downloads visibly go somewhere other
than the API. Threads: one per connection (stdlib ``ThreadingHTTPServer``, keep-alive, a deep accept queue),
one ``serve_forever`` loop per host, and the callback ticker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from ._callbacks import Ticker
from ._exchange import Backend, HostKind
from ._faults import wire_body

__all__ = ["EmulatorServer", "WSGIApp", "make_wsgi_app"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
"""A WSGI application callable."""

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


class _HostServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not hold up shutdown
    request_queue_size = 1024  # bursts of hundreds of concurrent connects are accepted, not refused
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Backend, host: HostKind) -> None:
        self.emulator = emulator
        self.host_kind: HostKind = host
        self.disconnects = 0
        self._disconnects_lock = threading.Lock()
        super().__init__(address, _Handler)

    def count_disconnect(self) -> None:
        """Count one client that hung up before its reply was written."""
        with self._disconnects_lock:
            self.disconnects += 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HostServer
    timeout = 60  # seconds an idle keep-alive connection is kept
    # Headers and body go out in two writes; with Nagle's algorithm the second waits for the client's
    # delayed ACK (~40 ms per request on Linux loopback).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the emulator records exchanges instead of logging them."""

    def handle(self) -> None:
        """Serve the connection; a client that hangs up early is counted, not logged with a traceback."""
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            # A client that timed out or was killed mid-reply is routine for a test server (stdlib
            # socketserver would print a traceback per connection): count it on the server instead.
            self.close_connection = True
            self.server.count_disconnect()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        body = self._body()
        authority = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        headers = [(k, v) for k, v in self.headers.items() if k.lower() != "transfer-encoding"]
        try:
            request = httpx.Request(
                self.command, f"http://{authority}{self.path}", headers=headers, content=body
            )
        except httpx.InvalidURL:
            self.send_error(400)
            return
        dispatch = self.server.emulator.dispatch(request, self.server.host_kind)
        if dispatch.effect in ("drop_before", "drop_after") or dispatch.response is None:
            self.close_connection = True  # closed without a byte of reply
            return
        if dispatch.effect == "delay":
            time.sleep(dispatch.delay)
        response = dispatch.response
        content = wire_body(response)
        self.send_response(response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if dispatch.effect == "trickle":
            self._trickle(content, dispatch.delay)
            return
        self.wfile.write(content)

    def _trickle(self, body: bytes, interval: float) -> None:
        # One byte per interval until the client gives up (a closed socket ends the loop).
        try:
            for i in range(len(body)):
                time.sleep(interval)
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class EmulatorServer:
    """The emulator on loopback sockets: ``base_url``, ``upload_base_url`` and ``files_base_url`` are real.

    Start with ``Emulator.serve()``; use as a context manager or call ``stop()``.
    """

    def __init__(
        self,
        emulator: Backend,
        host: str,
        port: int,
        upload_port: int | None,
        files_port: int | None,
    ) -> None:
        self.emulator = emulator
        """The emulator this server exposes."""
        self._host = host
        ports: dict[HostKind, int] = {
            "api": port,
            "upload": upload_port if upload_port is not None else (port + 1 if port else 0),
            "files": files_port if files_port is not None else (port + 2 if port else 0),
        }
        self._ports = ports
        self._servers: dict[HostKind, _HostServer] = {}
        self._threads: list[threading.Thread] = []
        self._ticker: Ticker | None = None
        self._past_disconnects = 0
        self.urls: dict[HostKind, str] = {}
        """The base URL of each host."""

    @property
    def base_url(self) -> str:
        """Base URL of the API host."""
        return self.urls["api"]

    @property
    def upload_base_url(self) -> str:
        """Base URL of the upload host."""
        return self.urls["upload"]

    @property
    def files_base_url(self) -> str:
        """Base URL of the file host."""
        return self.urls["files"]

    @property
    def disconnects(self) -> int:
        """Connections the client closed before its reply was written (counted quietly, never logged)."""
        return sum(server.disconnects for server in self._servers.values()) + self._past_disconnects

    def start(self) -> None:
        """Bind the three ports and start serving (and delivering callbacks)."""
        try:
            for kind, port in self._ports.items():
                server = _HostServer((self._host, port), self.emulator, kind)
                self._servers[kind] = server
                address, bound = server.server_address[:2]
                name = address.decode() if isinstance(address, bytes) else str(address)
                display = f"[{name}]" if ":" in name else name
                self.urls[kind] = f"http://{display}:{bound}"
        except BaseException:
            self._close_sockets()
            raise
        self.emulator._use_urls(self.urls)
        for kind, server in self._servers.items():
            # A short poll interval keeps stop() quick (shutdown waits for the loop's next poll).
            thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name=f"kie-emulator-{kind}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        self._ticker = Ticker(self.emulator.deliver_due_callbacks, 0.05)
        self._ticker.start()

    def stop(self) -> None:
        """Stop serving, join the threads and release the ports."""
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        for server in self._servers.values():
            server.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._close_sockets()
        self.emulator._use_urls(None, self)

    def _close_sockets(self) -> None:
        for server in self._servers.values():
            server.server_close()
            self._past_disconnects += server.disconnects
        self._servers.clear()

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _wsgi_headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    headers = [
        (key[5:].replace("_", "-").title(), str(value))
        for key, value in environ.items()
        if key.startswith("HTTP_")
    ]
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers.append((name, str(environ[key])))
    return headers


def _trickled(content: bytes, interval: float) -> Iterable[bytes]:
    for i in range(len(content)):
        time.sleep(interval)
        yield content[i : i + 1]


def make_wsgi_app(emulator: Backend) -> WSGIApp:
    """The core as a WSGI app. It routes by path alone (all three hosts share one origin); connection
    faults cannot be acted out over WSGI, so ``drop_*`` become a bare 502 and ``delay`` really sleeps."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        host = (
            environ.get("HTTP_HOST")
            or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        )
        query = environ.get("QUERY_STRING", "")
        path = quote(environ.get("PATH_INFO", "") or "/", safe="/:@!$&'()*+,;=-._~")
        url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}" + (f"?{query}" if query else "")
        request = httpx.Request(environ["REQUEST_METHOD"], url, headers=_wsgi_headers(environ), content=body)
        dispatch = emulator.dispatch(request)
        response = dispatch.response
        if dispatch.effect in ("drop_before", "drop_after") or response is None:
            start_response("502 Bad Gateway", [("Content-Length", "0")])
            return [b""]
        if dispatch.effect == "delay":
            (emulator.sleep or time.sleep)(dispatch.delay)
        content = wire_body(response)
        reply: Iterable[bytes] = [content]
        if dispatch.effect == "trickle":
            reply = _trickled(content, dispatch.delay)
        try:
            phrase = HTTPStatus(response.status_code).phrase
        except ValueError:
            phrase = "Unknown"
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_BY_HOP]
        headers.append(("Content-Length", str(len(content))))
        start_response(f"{response.status_code} {phrase}", headers)
        return reply

    return app
