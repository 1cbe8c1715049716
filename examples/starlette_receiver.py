"""A kie.ai callback receiver for Starlette or FastAPI: verify the raw body, answer 200 at once, work after.

Run: KIE_WEBHOOK_HMAC_KEY=... uvicorn examples.starlette_receiver:app
(FastAPI: the same handler body works in an ``@app.post("/kie/callback")`` route taking ``request: Request``.)
"""

from __future__ import annotations

import os
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from kie_gpt_image import TaskInfo
from kie_gpt_image.webhooks import (
    ReplayedCallbackError,
    ReplayGuard,
    WebhookVerificationError,
    verify_callback,
)


def create_app(key: str, on_result: Callable[[TaskInfo], object]) -> Starlette:
    """A Starlette app with ``POST /kie/callback`` that calls ``on_result`` for each verified callback."""
    guard = ReplayGuard()

    async def kie_callback(request: Request) -> PlainTextResponse:
        body = await request.body()  # the raw bytes: never re-serialised JSON
        try:
            info = verify_callback(body, request.headers, key, replay_guard=guard)
        except ReplayedCallbackError:
            return PlainTextResponse("already processed")  # kie.ai may deliver twice: 200, nothing more
        except WebhookVerificationError as exc:
            return PlainTextResponse(type(exc).__name__, status_code=401)
        # Acknowledge within kie.ai's 15 s; do the work (re-read get_task, download) afterwards.
        return PlainTextResponse("ok", background=BackgroundTask(on_result, info))

    return Starlette(routes=[Route("/kie/callback", kie_callback, methods=["POST"])])


def _log_result(info: TaskInfo) -> None:
    print(f"task {info.task_id}: {info.state.value} {list(info.result_urls)}")


app = create_app(os.environ.get("KIE_WEBHOOK_HMAC_KEY", ""), _log_result)
