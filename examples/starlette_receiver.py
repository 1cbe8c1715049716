"""A kie.ai callback receiver for Starlette or FastAPI, mounting the packaged ASGI receiver.

Run: KIE_API_KEY=... KIE_WEBHOOK_HMAC_KEY=... uvicorn --factory examples.starlette_receiver:main
It refuses to start without ``KIE_WEBHOOK_HMAC_KEY`` (kie.ai's Settings page generates it).
FastAPI: ``app.add_route("/kie/callback", receiver)`` (a ``Route``, not ``mount``: a mount answers
``/kie/callback`` with a redirect to ``/kie/callback/``, which kie.ai's POST does not follow).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.routing import Route

from kie_gpt_image import AsyncClient, Client, TaskInfo
from kie_gpt_image.webhooks import asgi_receiver


def create_app(
    on_task: Callable[[TaskInfo], Awaitable[object] | object],
    *,
    client: AsyncClient | Client,
    key: str | None = None,
) -> Starlette:
    """A Starlette app with ``POST /kie/callback``.

    Each verified callback is answered at once; then its task is read from kie.ai with ``client`` and
    ``on_task`` gets that trusted ``TaskInfo``. Replays get 200 and nothing runs.

    Raises:
        InvalidInputError: no ``key`` and no ``KIE_WEBHOOK_HMAC_KEY``.
    """
    receiver = asgi_receiver(on_task, client=client, key=key)
    return Starlette(routes=[Route("/kie/callback", receiver)])


async def _log_result(info: TaskInfo) -> None:
    print(f"task {info.task_id}: {info.state.value} {list(info.result_urls)}")


def main() -> Starlette:
    """The app uvicorn serves (``--factory``): keys from ``KIE_API_KEY`` and ``KIE_WEBHOOK_HMAC_KEY``."""
    return create_app(_log_result, client=AsyncClient())
