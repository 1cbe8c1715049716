"""Reading kie.ai's reply envelope, and the one table of its codes (used by ``_api``'s parsers).

kie.ai reports errors as an envelope ``{"code", "msg", "data"}``; the code may arrive as the HTTP
status, only in the body with HTTP 200, or both (reference "The reply envelope and codes"): all three
are read the same way. Transport failures are classified in ``_attempt``.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    FeatureDisabledError,
    GenerationFailedError,
    InsufficientCreditsError,
    KieError,
    MaintenanceError,
    NotFoundError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    UnprocessableRequestError,
    UpstreamTimeoutError,
    UsageCapExceededError,
)

__all__ = ["ERRORS_BY_CODE", "api_error", "read_envelope", "retry_after"]

ERRORS_BY_CODE: Mapping[int, type[APIError]] = {
    cls.documented_code: cls
    for cls in (
        BadRequestError,
        AuthenticationError,
        InsufficientCreditsError,
        NotFoundError,
        UpstreamTimeoutError,
        UnprocessableRequestError,
        UsageCapExceededError,
        RateLimitError,
        MaintenanceError,
        ServerError,
        GenerationFailedError,
        FeatureDisabledError,
    )
    if cls.documented_code is not None
}
"""kie.ai code → error class; a test checks every code the spec lists has an entry."""


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date), if present and valid."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _as_code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def api_error(
    code: int,
    message: str,
    *,
    operation: str,
    response: httpx.Response | None = None,
) -> APIError:
    """The error class for ``code`` (the base ``APIError`` keeps unknown codes)."""
    cls = ERRORS_BY_CODE.get(code)
    if cls is None and 500 <= code <= 599:
        cls = ServerError
    return (cls or APIError)(
        message or "no message",
        code=code,
        operation=operation,
        status_code=response.status_code if response is not None else None,
        body=response.content if response is not None else None,
        retry_after=retry_after(response.headers) if response is not None else None,
    )


def read_envelope(response: httpx.Response, operation: str) -> dict[str, Any]:
    """Return the decoded envelope of a successful reply, or raise the matching ``KieError``."""
    status = response.status_code
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        if status >= 400:
            # An HTML error page from a proxy (502) or a bare status: the status is the code.
            error: KieError = api_error(
                status, f"HTTP {status} without a kie.ai envelope", operation=operation, response=response
            )
            raise error from exc
        raise UnexpectedResponseError(
            "reply is not JSON", operation=operation, status_code=status, body=response.content
        ) from exc
    if not isinstance(body, dict):
        if status >= 400:
            raise api_error(status, f"HTTP {status}", operation=operation, response=response)
        raise UnexpectedResponseError(
            "reply is not a JSON object", operation=operation, status_code=status, body=response.content
        )
    code = _as_code(body.get("code"))
    message = body.get("msg")
    if not isinstance(message, str):
        # The Get Task Details example spells it "message" (reference).
        message = body.get("message") if isinstance(body.get("message"), str) else ""
    if code is None or code == 200:
        if status >= 400:
            raise api_error(status, str(message), operation=operation, response=response)
        if code is None and body.get("success") is not True:
            raise UnexpectedResponseError(
                "reply has no code", operation=operation, status_code=status, body=response.content
            )
        if body.get("success") is False:
            raise UnexpectedResponseError(
                "reply says success: false with code 200",
                operation=operation,
                status_code=status,
                body=response.content,
            )
        return body
    raise api_error(code, str(message), operation=operation, response=response)
