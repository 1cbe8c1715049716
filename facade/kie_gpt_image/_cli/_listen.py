"""``batch --listen``: a callback receiver inside the batch process.

Each task is created with a ``callBackUrl`` pointing here; a verified callback makes the waits on its
task poll at once (``AsyncClient.poll_now``), instead of sleeping to their next scheduled poll while the
task holds a place under the running-task cap. The poll confirms the finish: nothing is taken from the
callback's body, which kie.ai does not sign (https://docs.kie.ai/common-api/webhook-verification).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .. import _inputs
from .._errors import InvalidInputError
from .._receivers import WSGIReceiver, wsgi_receiver
from .._webhooks import VerifiedCallback

__all__ = ["CallbackListener", "parse_listen"]


def parse_listen(value: str, callback_url: str | None) -> tuple[str, int, str | None]:
    """``HOST:PORT`` of ``--listen`` (port 0: any free one), checked before anything is sent; and the
    callback URL if given."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidInputError("--listen", f"expected HOST:PORT (e.g. 127.0.0.1:8765), got {value!r}")
    host = host.strip("[]")
    # A wildcard address has no URL of its own to hand kie.ai.
    if callback_url is None and host in ("0.0.0.0", "::", ""):  # noqa: S104 - detected, not bound
        raise InvalidInputError(
            "--callback-url", f"--listen {value} listens on every address: give the URL kie.ai should post to"
        )
    return host, int(port), callback_url


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per callback on stderr would drown the batch's progress


class CallbackListener:
    """Serves a verified-callback receiver on ``host:port`` in a thread while in a ``with`` block."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        key: str,
        clock: Callable[[], float],
        callback_url: str | None = None,
    ) -> None:
        self.on_callback: Callable[[str], object] | None = None
        """Called (on a worker thread) with each verified callback's task id."""

        def handle(verified: VerifiedCallback) -> None:
            if self.on_callback is not None:
                self.on_callback(verified.task_id)

        self._app: WSGIReceiver = wsgi_receiver(handle, key=key, clock=clock, workers=2)
        self._server = make_server(host, port, self._app, server_class=_Threading, handler_class=_Quiet)
        bound = self._server.server_port
        shown = f"[{host}]" if ":" in host else host
        self.url = callback_url or f"http://{shown}:{bound}/"
        """The ``callBackUrl`` each task is created with."""
        self.allow_http = self.url.startswith("http://") and _inputs.is_loopback_host(host)
        """Whether the URL is plain http on this machine's loopback (the emulator's case)."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="kie-callbacks",
            daemon=True,
        )

    def __enter__(self) -> CallbackListener:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._app.shutdown(wait=False)
