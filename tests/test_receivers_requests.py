"""The packaged receivers answer malformed requests with a 4xx, never a 500, and their docstring's way of
serving them works in Starlette."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import httpx
import pytest

import kie_gpt_image._receivers as receivers_module
from kie_gpt_image import webhooks

KEY = "receiver-test-key"


def _asgi_status(app: Any, headers: list[tuple[bytes, bytes]]) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


@pytest.mark.parametrize("length", ["²", "١٢", "12x", "-1"])
def test_a_content_length_that_is_not_ascii_digits_is_a_400(length: str) -> None:
    # "²" and "١٢" (Arabic-Indic digits) pass str.isdigit but not int(): they once raised out of the app.
    asgi = webhooks.asgi_receiver(lambda callback: None, key=KEY)
    assert _asgi_status(asgi, [(b"content-length", length.encode("utf-8"))]) == 400

    wsgi = webhooks.wsgi_receiver(lambda callback: None, key=KEY)
    statuses: list[str] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": length,
        "wsgi.input": io.BytesIO(b"{}"),
    }
    b"".join(wsgi(environ, lambda status, headers, *rest: statuses.append(status)))
    assert statuses[0].startswith("400")


def test_the_docstrings_way_of_serving_the_asgi_receiver_reaches_it() -> None:
    from starlette.applications import Starlette

    docs = f"{webhooks.asgi_receiver.__doc__}\n{receivers_module.__doc__}"
    (statement,) = set(re.findall(r"``(app\.\w+\(\"/kie/callback\", receiver\))``", docs))
    app = Starlette()
    receiver = webhooks.asgi_receiver(lambda callback: None, key=KEY)
    # The docstring's own line, run as a reader would copy it.
    exec(statement, {"app": app, "receiver": receiver})  # noqa: S102

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.post("/kie/callback", content=b"{}")

    # Unsigned: the receiver itself answers 401. A mount would answer 307 without reaching it.
    assert asyncio.run(post()).status_code == 401
