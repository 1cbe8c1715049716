"""A kie.ai callback receiver for Flask: verify the raw body, answer 200 quickly.

Run: KIE_WEBHOOK_HMAC_KEY=... flask --app examples.flask_receiver run
"""

from __future__ import annotations

import os
from collections.abc import Callable

from flask import Flask, request

from kie_gpt_image import TaskInfo
from kie_gpt_image.webhooks import (
    ReplayedCallbackError,
    ReplayGuard,
    WebhookVerificationError,
    verify_callback,
)


def create_app(key: str, on_result: Callable[[TaskInfo], object]) -> Flask:
    """A Flask app with ``POST /kie/callback`` that calls ``on_result`` for each verified callback.

    Keep ``on_result`` quick (queue the work): kie.ai waits 15 s for the answer.
    """
    app = Flask(__name__)
    guard = ReplayGuard()

    @app.post("/kie/callback")
    def kie_callback() -> tuple[str, int]:
        body = request.get_data(cache=False)  # the raw bytes: never re-serialised JSON
        try:
            info = verify_callback(body, request.headers, key, replay_guard=guard)
        except ReplayedCallbackError:
            return "already processed", 200  # kie.ai may deliver twice: 200, nothing more
        except WebhookVerificationError as exc:
            return type(exc).__name__, 401
        on_result(info)
        return "ok", 200

    return app


def _log_result(info: TaskInfo) -> None:
    print(f"task {info.task_id}: {info.state.value} {list(info.result_urls)}")


app = create_app(os.environ.get("KIE_WEBHOOK_HMAC_KEY", ""), _log_result)
