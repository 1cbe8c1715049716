"""The clients keep no cookies: kie.ai authenticates by bearer token, and a cookie a reply (or a result
host) sets is never sent back (the jar is also a cost on every reply: issue 14)."""

from __future__ import annotations

import json

import httpx
import pytest

import kie_gpt_image as kie

RECORD = {"code": 200, "msg": "ok", "data": {"taskId": "t1", "state": "waiting"}}


def _transport_seeing(cookies: list[str | None]) -> httpx.MockTransport:
    def reply(request: httpx.Request) -> httpx.Response:
        cookies.append(request.headers.get("cookie"))
        return httpx.Response(200, content=json.dumps(RECORD).encode(), headers={"set-cookie": "session=abc"})

    return httpx.MockTransport(reply)


def test_a_cookie_set_by_a_reply_is_never_sent_back() -> None:
    seen: list[str | None] = []
    with kie.Client("k", transport=_transport_seeing(seen)) as client:
        client.get_task("t1")
        client.get_task("t1")
    assert seen == [None, None]


@pytest.mark.anyio
async def test_the_async_client_keeps_no_cookie_either() -> None:
    seen: list[str | None] = []
    async with kie.AsyncClient("k", transport=_transport_seeing(seen)) as client:
        await client.get_task("t1")
        await client.get_task("t1")
    assert seen == [None, None]
