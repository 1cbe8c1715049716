"""A scripted kie.ai for unit tests: per-operation reply queues over ``httpx.MockTransport``, every
request checked against the published spec, and a harness that runs a test under ``Client`` or
``AsyncClient`` with a fake clock and recorded sleeps (nothing ever waits). An async harness runs every
call of its test in one event loop (an anyio blocking portal), as the client's connections expect."""

from __future__ import annotations

import inspect
import io
import json
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import contract
import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from PIL import Image

import kie_gpt_image as kie

API = "https://api.kie.ai"
UPLOAD = "https://kieai.redpandaai.co"
FILES = "https://tempfile.aiquickdraw.com"
KEY = "sk-test-0123456789abcdef"

OPERATIONS = {
    ("POST", "/api/v1/jobs/createTask"): "create",
    ("GET", "/api/v1/jobs/recordInfo"): "record",
    ("GET", "/api/v1/chat/credit"): "credit",
    ("POST", "/api/v1/common/download-url"): "download-url",
    ("POST", "/api/file-stream-upload"): "upload-stream",
    ("POST", "/api/file-base64-upload"): "upload-base64",
    ("POST", "/api/file-url-upload"): "upload-url",
}


def image_bytes(kind: str = "PNG", size: tuple[int, int] = (8, 6)) -> bytes:
    """A real, tiny image file of the given Pillow format."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 60)).save(buffer, format=kind)
    return buffer.getvalue()


def envelope(
    code: int = 200, data: Any = None, msg: str = "success", status: int = 200, **headers: str
) -> httpx.Response:
    """A kie.ai envelope reply."""
    return httpx.Response(status, json={"code": code, "msg": msg, "data": data}, headers=headers)


def record(
    state: str = "success", task_id: str = "task_1", urls: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """A recordInfo ``data`` in kie.ai's shape (resultJson and param are JSON strings)."""
    urls = [f"{FILES}/r/{task_id}-0.png"] if urls is None and state == "success" else (urls or [])
    data = {
        "taskId": task_id,
        "model": "gpt-image/1.5-image-to-image",
        "state": state,
        "param": json.dumps({"model": "gpt-image/1.5-image-to-image", "input": {"prompt": "p"}}),
        "resultJson": json.dumps({"resultUrls": urls}) if state == "success" else "",
        "failCode": "",
        "failMsg": "",
        "costTime": 1200,
        "createTime": 1765968156336,
        "updateTime": 1765968157536,
        "completeTime": 1765968157536 if state in ("success", "fail") else 0,
    }
    data.update(extra)
    return data


Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeKie:
    """Scripted replies per operation; defaults make a whole edit succeed."""

    contract_checks: bool = True
    queues: dict[str, list[Reply]] = field(default_factory=lambda: defaultdict(list))
    requests: list[httpx.Request] = field(default_factory=list)
    result_body: bytes = field(default_factory=image_bytes)

    def script(self, operation: str, *replies: Reply) -> None:
        """Queue replies for an operation; once used up, the default reply answers."""
        self.queues[operation].extend(replies)

    def calls(self, operation: str) -> list[httpx.Request]:
        """The requests received for one operation."""
        return [r for r in self.requests if self._operation(r) == operation]

    @staticmethod
    def _operation(request: httpx.Request) -> str:
        if request.url.host == httpx.URL(FILES).host:
            return "files"
        return OPERATIONS.get((request.method, request.url.path), "unknown")

    def handler(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        operation = self._operation(request)
        if operation not in ("files", "unknown") and self.contract_checks:
            contract.check_request(request)
        queue = self.queues.get(operation)
        reply: Reply = queue.pop(0) if queue else self._default(operation, request)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply) and not isinstance(reply, httpx.Response):
            reply = reply(request)
        # A fresh copy: parametrized replies are shared between the sync and async runs, and httpx
        # rebinds a response's stream to the client that used it.
        reply.read()
        return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)

    def _default(self, operation: str, request: httpx.Request) -> httpx.Response:
        if operation == "create":
            return envelope(data={"taskId": "task_1"})
        if operation == "record":
            return envelope(data=record(task_id=request.url.params["taskId"]))
        if operation == "credit":
            return envelope(data=100)
        if operation == "download-url":
            return envelope(data=f"{FILES}/d/direct.png?token=t")
        if operation.startswith("upload"):
            # This request's place among the uploads (uploads of one edit may arrive on several threads).
            n = next(i for i, sent in enumerate(self.calls(operation)) if sent is request)
            return httpx.Response(
                200,
                json={
                    "success": True,
                    "code": 200,
                    "msg": "File uploaded successfully",
                    "data": {
                        "fileName": f"in-{n}.png",
                        "filePath": f"images/kie-gpt-image/in-{n}.png",
                        "downloadUrl": f"{FILES}/u/in-{n}.png",
                        "fileSize": 10,
                        "mimeType": "image/png",
                        "uploadedAt": "2025-01-01T12:00:00.000Z",
                    },
                },
            )
        if operation == "files":
            return httpx.Response(200, content=self.result_body, headers={"content-type": "image/png"})
        return httpx.Response(404, text="no such route")


class FakeClock:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


class Harness:
    """One test, either client: ``h("get_task", "t")`` calls the method and awaits it if needed."""

    def __init__(self, mode: str, fake: FakeKie, **options: Any) -> None:
        self.mode = mode
        self.fake = fake
        self.clock = FakeClock()
        transport = httpx.MockTransport(fake.handler)
        options.setdefault("api_key", KEY)
        options.setdefault("rand", lambda: 0.5)
        options.setdefault("clock", self.clock)
        self.client: kie.Client | kie.AsyncClient
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        if mode == "sync":
            options.setdefault("sleep", self.clock.sleep)
            self.client = kie.Client(transport=transport, **options)
        else:
            options.setdefault("sleep", self.clock.async_sleep)
            self.client = kie.AsyncClient(transport=transport, **options)
            self._portal_cm = start_blocking_portal("asyncio")
            self._portal = self._portal_cm.__enter__()

    @property
    def sleeps(self) -> list[float]:
        """Every sleep the client asked for, in order."""
        return self.clock.sleeps

    def __call__(self, method_name: str, /, *args: Any, **kwargs: Any) -> Any:
        return self.run(getattr(self.client, method_name)(*args, **kwargs))

    def run(self, value: Any) -> Any:
        """Await ``value`` when it is awaitable (the async client), else return it."""
        if inspect.isawaitable(value):
            assert self._portal is not None
            return self._portal.call(_await, value)
        return value

    def close(self) -> None:
        """Close the client (as leaving its ``with`` block does); the harness can still run calls."""
        self.run(self.client.close() if isinstance(self.client, kie.Client) else self.client.aclose())

    def finish(self) -> None:
        """End of the test: close the client and the event loop."""
        self.close()
        if self._portal_cm is not None:
            self._portal_cm.__exit__(None, None, None)
            self._portal_cm = self._portal = None


async def _await(value: Any) -> Any:
    return await value
