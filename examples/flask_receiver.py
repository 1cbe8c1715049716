"""A kie.ai callback receiver for Flask, mounting the packaged WSGI receiver beside your routes.

Run: KIE_API_KEY=... KIE_WEBHOOK_HMAC_KEY=... flask --app "examples.flask_receiver:main()" run
It refuses to start without ``KIE_WEBHOOK_HMAC_KEY`` (kie.ai's Settings page generates it).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from kie_gpt_image import Client, TaskInfo
from kie_gpt_image.webhooks import WSGIReceiver, wsgi_receiver


def create_app(
    on_task: Callable[[TaskInfo], object], *, client: Client, key: str | None = None
) -> tuple[Flask, WSGIReceiver]:
    """A Flask app with ``POST /kie/callback`` served by the WSGI receiver, and the receiver.

    Each verified callback is answered at once; then, on the receiver's worker threads, its task is
    read from kie.ai with ``client`` and ``on_task`` gets that trusted ``TaskInfo``. Replays get 200 and
    nothing runs. Call ``receiver.shutdown()`` on exit to finish the work in hand.

    Raises:
        InvalidInputError: no ``key`` and no ``KIE_WEBHOOK_HMAC_KEY``.
    """
    receiver = wsgi_receiver(on_task, client=client, key=key)
    app = Flask(__name__)

    @app.get("/")
    def index() -> str:
        return "your own routes live beside the receiver"

    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/kie/callback": receiver})  # type: ignore[method-assign]
    return app, receiver


def _log_result(info: TaskInfo) -> None:
    print(f"task {info.task_id}: {info.state.value} {list(info.result_urls)}")


def main() -> Flask:
    """The app ``flask --app`` serves: keys from ``KIE_API_KEY`` and ``KIE_WEBHOOK_HMAC_KEY``."""
    app, _ = create_app(_log_result, client=Client())
    return app
