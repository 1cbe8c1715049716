"""Fuzzing every reply the facade reads: whatever kie.ai (or a proxy in front of it) answers, a call
returns a value or raises a ``KieError``; ``verify_callback`` succeeds or raises a
``WebhookVerificationError``. Never a bare ValueError, TypeError, KeyError, RecursionError...

Bounded and stable: ``derandomize=True``, ``max_examples`` per endpoint below, no deadline. Replies are
served through ``httpx.MockTransport``; parsing is shared by both clients (one sans-I/O flow), so the
fuzz drives ``Client`` and a smaller async run checks the async driver forwards errors the same way.

The ``test_escape_*`` tests at the end pin inputs that once escaped as builtin errors and that random
generation rarely reaches (non-finite numbers, nesting deeper than the recursion limit, lone
surrogates, non-ASCII digits in headers).
"""

from __future__ import annotations

import json
import string
import tempfile
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kie_gpt_image as kie
from kie_gpt_image.testing import FakeClock
from kie_gpt_image.webhooks import sign_callback, verify_callback

EXAMPLES = 60
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

API = "https://api.kie.ai"
UPLOAD = "https://kieai.redpandaai.co"
FILES = "https://tempfile.example"
# The smallest complete PNG structure (signature, IEND chunk): inputs are checked up to IEND.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x00IEND\xaeB`\x82" + b"\x00" * 12

# ------------------------------------------------------------------------------------------ strategies

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=15,
)
# Fields kie.ai sends as JSON *strings* (param, resultJson) get random JSON text as well as junk.
json_texts = json_values.map(json.dumps) | st.builds(
    lambda urls: json.dumps({"resultUrls": urls}), st.lists(st.text(max_size=20) | json_values, max_size=3)
)
fields = json_values | json_texts | st.sampled_from(["", "0", "-1", "1e3", "success", "https://x.test/a.png"])

_RECORD_KEYS = (
    "taskId",
    "task_id",
    "model",
    "param",
    "resultJson",
    "failCode",
    "failMsg",
    "costTime",
    "completeTime",
    "createTime",
    "updateTime",
    "creditsConsumed",
    "consumeCredits",
    "progress",
)
record = st.fixed_dictionaries(
    {},
    optional={
        **{key: fields for key in _RECORD_KEYS},
        "state": st.sampled_from(["waiting", "queuing", "generating", "success", "fail", "SUCCESS", ""])
        | fields,
    },
)
uploaded = st.fixed_dictionaries(
    {},
    optional={
        key: fields
        for key in ("fileName", "filePath", "downloadUrl", "fileSize", "mimeType", "uploadedAt", "fileId")
    },
)
codes = (
    st.sampled_from([200, 401, 402, 404, 422, 429, 433, 455, 500, 501, 505, 999, "200", "429", -1]) | fields
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "code": codes,
        "msg": fields,
        "message": fields,
        "success": st.booleans() | fields,
        "data": record | uploaded | fields,
    },
)
bodies = (
    st.binary(max_size=120)
    | json_values.map(lambda v: json.dumps(v).encode())
    | envelopes.map(lambda v: json.dumps(v).encode())
    | envelopes.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass"))
)
statuses = st.sampled_from(
    [200, 201, 204, 301, 400, 401, 404, 429, 455, 500, 502, 503, 520, 599]
) | st.integers(100, 999)
_header_text = st.text(alphabet=string.printable.strip() + " ", max_size=30)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Retry-After": st.sampled_from(["0", "1", "-5", "nan", "1e999", "Wed, 21 Oct 2015 07:28:00 GMT"])
        | _header_text,
        "Content-Type": st.sampled_from(["application/json", "text/html", "image/png"]) | _header_text,
    },
)


class Reply:
    """The fuzzed reply served for every request to the target."""

    def __init__(self, status: int, body: bytes, head: dict[str, str]) -> None:
        self.status, self.body, self.head = status, body, head

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body[:200]!r}, {self.head})"


replies = st.builds(Reply, statuses, bodies, headers)

# ------------------------------------------------------------------------------------------ endpoints

INFO = kie.TaskInfo(task_id="task_1", state=kie.TaskState.SUCCESS, result_urls=(f"{FILES}/r/task_1.png",))

ENDPOINTS: dict[str, tuple[str, Callable[[kie.Client, str], Any]]] = {
    "createTask": ("/api/v1/jobs/createTask", lambda c, d: c.create_task(["https://x.test/a.png"], "p")),
    "recordInfo": ("/api/v1/jobs/recordInfo", lambda c, d: c.get_task("task_1")),
    "wait": ("/api/v1/jobs/recordInfo", lambda c, d: c.wait("task_1", timeout=0)),
    "upload-stream": ("/api/file-stream-upload", lambda c, d: c.upload(PNG)),
    "upload-base64": ("/api/file-base64-upload", lambda c, d: c.upload(PNG, method="base64")),
    "upload-url": ("/api/file-url-upload", lambda c, d: c.upload("https://x.test/a.png")),
    "credits": ("/api/v1/chat/credit", lambda c, d: c.credits()),
    "download-url": ("/api/v1/common/download-url", lambda c, d: c.download_url(f"{FILES}/r/task_1.png")),
    "result-download": ("/r/task_1.png", lambda c, d: c.download(INFO, d)),
}


def _transport(reply: Reply) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(reply.status, content=reply.body, headers=reply.head)

    return httpx.MockTransport(handler)


def _client(reply: Reply) -> kie.Client:
    return kie.Client(
        api_key="k",
        transport=_transport(reply),
        retry_policy=kie.RetryPolicy(max_retries=1),
        clock=FakeClock(),  # sleeps end at once, on a clock the deadlines read too
        poll_policy=kie.PollPolicy(timeout=0),
        create_timeout=1,  # a createTask answered 429 is resent for a second (of the fake clock)
    )


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_every_reply_gives_a_value_or_a_kie_error(endpoint: str) -> None:
    _, call = ENDPOINTS[endpoint]

    @FUZZ
    @given(reply=replies)
    def check(reply: Reply) -> None:
        with _client(reply) as client, tempfile.TemporaryDirectory() as folder:
            try:
                call(client, folder)
            except kie.KieError:
                pass

    check()


@pytest.mark.anyio
@settings(max_examples=30, deadline=None, derandomize=True)
@given(reply=replies)
async def test_the_async_driver_maps_replies_the_same_way(reply: Reply) -> None:
    async def nap(seconds: float) -> None:
        return None

    async with kie.AsyncClient(
        api_key="k", transport=_transport(reply), retry_policy=kie.RetryPolicy(max_retries=1), sleep=nap
    ) as client:
        for call in (lambda: client.get_task("task_1"), client.credits, lambda: client.upload(PNG)):
            try:
                await call()
            except kie.KieError:
                pass


# ------------------------------------------------------------------------------------------ webhooks

KEY = "whsec-fuzz"
NOW = 1_765_968_000


@FUZZ
@given(
    body=bodies,
    timestamp=st.none() | _header_text | st.integers(NOW - 1000, NOW + 1000).map(str),
    signature=st.none() | _header_text,
)
def test_verify_callback_on_random_requests(
    body: bytes, timestamp: str | None, signature: str | None
) -> None:
    head = {
        name: value
        for name, value in (("X-Webhook-Timestamp", timestamp), ("X-Webhook-Signature", signature))
        if value is not None
    }
    try:
        verify_callback(body, head, KEY, now=NOW)
    except kie.WebhookVerificationError:
        pass


_task_ids = st.text(min_size=1, max_size=30).filter(lambda s: s.isprintable())


@FUZZ
@given(data=record, task_id=_task_ids, where=st.sampled_from(["data.taskId", "data.task_id", "taskId"]))
def test_verify_callback_on_correctly_signed_random_records(
    data: dict[str, Any], task_id: str, where: str
) -> None:
    # A valid signature gets the body past verification into the record parser.
    data = {k: v for k, v in data.items() if k not in ("taskId", "task_id")}
    payload: dict[str, Any] = {"code": 200, "msg": "ok", "data": data}
    if where == "taskId":
        payload["taskId"] = task_id
    else:
        data[where.split(".")[1]] = task_id
    timestamp = str(NOW)
    head = {"X-Webhook-Timestamp": timestamp, "X-Webhook-Signature": sign_callback(task_id, timestamp, KEY)}
    try:
        callback = verify_callback(json.dumps(payload).encode(), head, KEY, now=NOW)
    except kie.WebhookVerificationError:
        return
    assert callback.task_id == task_id
    assert callback.unverified_info.task_id == task_id


# ------------------------------------------------------------------------------------------ known escapes

DEEP = b"[" * 100_000 + b"]" * 100_000


def _record_reply(**fields: Any) -> bytes:
    data = {"taskId": "task_1", "state": "waiting", **fields}
    return json.dumps({"code": 200, "msg": "success", "data": data}).encode()


def _assert_kie_error(call: Callable[[], Any]) -> None:
    try:
        call()
    except kie.KieError:
        return
    except Exception as exc:  # the point of the test: what escaped
        pytest.fail(f"{type(exc).__name__} escaped: {exc}")


def test_escape_deeply_nested_reply() -> None:
    with _client(Reply(200, DEEP, {})) as client:
        _assert_kie_error(lambda: client.get_task("task_1"))


def test_escape_deeply_nested_result_json() -> None:
    with _client(Reply(200, _record_reply(resultJson="[" * 100_000), {})) as client:
        _assert_kie_error(lambda: client.get_task("task_1"))


@pytest.mark.parametrize(
    "body",
    [_record_reply(costTime="1e400"), b'{"code":200,"msg":"ok","data":{"taskId":"t","createTime":Infinity}}'],
    ids=["string-1e400", "json-Infinity"],
)
def test_escape_infinite_number_in_record(body: bytes) -> None:
    with _client(Reply(200, body, {})) as client:
        _assert_kie_error(lambda: client.get_task("task_1"))


def _signed(body: bytes, task_id: str = "task_1", timestamp: str = str(NOW)) -> dict[str, str]:
    return {"X-Webhook-Timestamp": timestamp, "X-Webhook-Signature": sign_callback(task_id, timestamp, KEY)}


def test_escape_webhook_superscript_timestamp() -> None:
    head = {"X-Webhook-Timestamp": "\u00b2", "X-Webhook-Signature": "x"}
    _assert_kie_error(lambda: verify_callback(b"{}", head, KEY, now=NOW))


def test_escape_webhook_surrogate_task_id() -> None:
    body = b'{"data": {"taskId": "\\ud800"}}'
    _assert_kie_error(
        lambda: verify_callback(body, {**_signed(b""), "X-Webhook-Signature": "x"}, KEY, now=NOW)
    )


def test_escape_webhook_deep_body() -> None:
    _assert_kie_error(lambda: verify_callback(DEEP, _signed(DEEP), KEY, now=NOW))


def test_escape_webhook_infinite_number() -> None:
    body = b'{"data": {"taskId": "task_1", "costTime": Infinity}}'
    _assert_kie_error(lambda: verify_callback(body, _signed(body), KEY, now=NOW))


def test_escape_download_superscript_content_length() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=PNG, headers=[(b"content-length", b"\xc2\xb2")])

    with kie.Client(api_key="k", transport=httpx.MockTransport(handler)) as client:
        with tempfile.TemporaryDirectory() as folder:
            _assert_kie_error(lambda: client.download(INFO, folder))
