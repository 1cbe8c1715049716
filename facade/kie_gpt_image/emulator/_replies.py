"""The emulator's reply envelopes: kie.ai's ``{code, msg, data}`` JSON, plain-text pages, and the replies
injected faults produce (reference, "The reply envelope and codes")."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any, Literal, Protocol

import httpx

from ._faults import Fault

__all__ = [
    "NO_ACCESS",
    "ErrorStatus",
    "ReplyStyle",
    "authorized",
    "error_reply",
    "fault_reply",
    "json_reply",
    "ok_reply",
    "plain_reply",
    "reshape",
]

ErrorStatus = Literal["body", "http", "both"]
"""Where an error code travels: only in the body with HTTP 200 (what live clients see, the default),
only as the HTTP status, or both (reference, "The reply envelope and codes")."""

NO_ACCESS = "You do not have access permissions"  # reference, "Hosts and auth"


class ReplyStyle(Protocol):
    """How error envelopes are shaped (the emulator's ``error_status`` and ``error_data_null`` options)."""

    error_status: ErrorStatus
    error_data_null: bool


def json_reply(status: int, payload: object, headers: Mapping[str, str] | None = None) -> httpx.Response:
    """A compact JSON reply, as kie.ai sends them."""
    content = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return httpx.Response(
        status, headers={"Content-Type": "application/json", **(headers or {})}, content=content
    )


def plain_reply(status: int, text: str) -> httpx.Response:
    """A plain-text reply (the file host's 404s, a non-JSON fault page)."""
    return httpx.Response(
        status, headers={"Content-Type": "text/plain; charset=utf-8"}, content=text.encode()
    )


def ok_reply(data: object) -> httpx.Response:
    """The success envelope around ``data``."""
    return json_reply(200, {"code": 200, "msg": "success", "data": data})


def error_reply(
    style: ReplyStyle,
    code: int,
    msg: str,
    *,
    upload: bool = False,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """An error envelope, its code placed per ``style.error_status`` (``status`` forces the HTTP status).

    The upload host's envelopes carry ``"success": false`` too (reference §3).
    """
    body: dict[str, Any] = {"success": False} if upload else {}
    if style.error_status != "http" or status is not None:
        body["code"] = code
    body["msg"] = msg
    if style.error_data_null:
        body["data"] = None
    http_status = status if status is not None else (200 if style.error_status == "body" else code)
    return json_reply(http_status, body, headers)


def fault_reply(style: ReplyStyle, fault: Fault, *, upload: bool) -> httpx.Response:
    """The reply of a fault that replaces the handler's (an HTML error page, non-JSON, or a body code)."""
    if fault.kind == "http_error":
        return httpx.Response(fault.status, headers={"Content-Type": "text/html"}, content=fault.html_page())
    if fault.kind == "non_json":
        return plain_reply(200, "Service temporarily unavailable, please try again later.")
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
    messages = {
        429: "Rate limit exceeded",
        455: "Service unavailable: maintenance",
        500: "Server error",
        505: "Feature disabled",
    }
    return error_reply(
        style, fault.status, messages.get(fault.status, "Error"), upload=upload, headers=headers
    )


def reshape(fault: Fault, response: httpx.Response) -> httpx.Response:
    """The handler's reply as a fault that processes the request reshapes it (status, body, encoding)."""
    status = fault.status if fault.kind == "http_status" else response.status_code
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-length"]
    if fault.kind == "oversized":
        headers.append(("Content-Encoding", "gzip"))
    return httpx.Response(status, headers=headers, content=fault.reshape(response.content))


def authorized(request: httpx.Request, api_key: str) -> bool:
    """Whether ``request`` carries ``Bearer <api_key>`` (compared in constant time)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())
