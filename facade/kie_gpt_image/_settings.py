"""A client's configuration, resolved once: defaults, environment variables and validation in one place.

``Settings.resolve`` turns the options both clients take (``Client(...)``/``AsyncClient(...)``, identical
but for the transport, the HTTP client and the sleep) into one frozen ``Settings``: the key from the
argument or ``KIE_API_KEY``, the hosts from the arguments, ``KIE_BASE_URL``/``KIE_UPLOAD_BASE_URL`` or
kie.ai's, the webhook key from the argument or ``KIE_WEBHOOK_HMAC_KEY``, the policies and the deadlines.
Every bad option is an ``InvalidInputError`` named after the argument, or after the environment variable
it came from, raised before anything is sent. (httpx keeps its ``_config.py`` apart from its client the
same way.)

Importing this module is cheap (it is imported with ``Client``); what the checks need beyond that is
imported when a client is made.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ._auth import Secret
from ._deadline import Deadlines
from ._errors import InvalidInputError, MissingApiKeyError
from ._policies import PollPolicy, RetryPolicy
from ._urls import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_UPLOAD_BASE_URL,
    UPLOAD_BASE_URL_ENV,
    WEBHOOK_KEY_ENV,
    insecure_http_problem,
    resolve_url,
)

if TYPE_CHECKING:
    from ._scheduler import RateLimits

__all__ = [
    "DEFAULT_CREATE_TIMEOUT",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_MAX_REPLY_BYTES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_UPLOAD_PATH",
    "Settings",
    "resolve_webhook_key",
]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
"""Per-phase timeout: 10 s to connect, 60 s for each read/write (a 10 MB upload on a slow link). A
request's total deadline (``request_timeout``) defaults to connect + write + read: 130 s."""
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
"""httpx's own default pool: fine for one edit at a time; see ``limits`` for many at once."""
DEFAULT_MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
"""Result images larger than this are refused by default (videos: 2 GiB, audio: 200 MiB; see
``max_download_bytes``)."""
DEFAULT_MAX_REPLY_BYTES = 4 * 1024 * 1024
"""kie.ai replies (JSON envelopes of a few kB) larger than this, after decoding, are refused."""
DEFAULT_UPLOAD_PATH = "images/kie-gpt-image"
"""The ``uploadPath`` uploaded inputs are stored under."""
DEFAULT_CREATE_TIMEOUT = 60.0
"""Seconds the create step may take, resends of a createTask kie.ai refused with 429 included: six of
kie.ai's 10-second create windows (https://docs.kie.ai, "rate limits": 20 new tasks per 10 s)."""


def _resolve_key(api_key: str | None) -> tuple[Secret, str]:
    """The key and where it came from (said when kie.ai refuses it)."""
    source = "the api_key argument" if api_key is not None else "the KIE_API_KEY environment variable"
    key = api_key if api_key is not None else os.environ.get("KIE_API_KEY")
    if key is None or not key.strip():
        raise MissingApiKeyError()
    key = key.strip()
    if not key.isprintable() or any(c.isspace() for c in key):
        raise InvalidInputError("api_key", "contains whitespace or control characters")
    return Secret(key), source


def resolve_webhook_key(webhook_key: str | None, *, field: str = "webhook_key") -> Secret | None:
    """The webhook HMAC key (the argument, else ``KIE_WEBHOOK_HMAC_KEY``) as a ``Secret``, or ``None``
    (an error only where it is needed: ``handle_callback``)."""
    from ._webhooks import check_key

    key = webhook_key if webhook_key is not None else os.environ.get(WEBHOOK_KEY_ENV) or None
    if key is None:
        return None
    try:
        check_key(key)
    except InvalidInputError as exc:
        named = field if webhook_key is not None else WEBHOOK_KEY_ENV
        raise InvalidInputError(named, exc.message.split(": ", 1)[-1]) from None
    return Secret(key, "webhook key")


def _check_base_url(field: str, url: object, allow_insecure_http: bool) -> str:
    from ._inputs import check_url

    if not isinstance(url, str):
        raise InvalidInputError(field, f"must be a URL string, not {type(url).__name__}")
    checked = check_url(field, url).rstrip("/")
    problem = None if allow_insecure_http else insecure_http_problem(checked)
    if problem is not None:
        raise InvalidInputError(field, problem)
    return checked


def _positive_seconds(name: str, value: object) -> float | None:
    if value is not None and (not isinstance(value, (int, float)) or not value > 0):
        raise InvalidInputError(name, "must be a positive number of seconds")
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a client was configured with, checked (see ``resolve``)."""

    key: Secret
    key_source: str
    """Where the key came from (named when kie.ai refuses it)."""
    base_url: str
    upload_base_url: str
    webhook_key: Secret | None
    retry_policy: RetryPolicy
    poll_policy: PollPolicy
    max_download_bytes: int | Mapping[str, int]
    max_reply_bytes: int
    timeout: httpx.Timeout
    limits: httpx.Limits
    deadlines: Deadlines
    create_timeout: float
    upload_path: str
    allow_http_callback: bool
    clock: Callable[[], float]
    rand: Callable[[], float]
    rate_limits: RateLimits

    @classmethod
    def resolve(cls, options: Mapping[str, Any], *, timeout: httpx.Timeout | None = None) -> Settings:
        """Check ``options`` (the shared keyword arguments of ``Client``/``AsyncClient``, by name) and
        resolve them against the environment; ``timeout`` overrides ``options["timeout"]`` (that of a
        given ``http_client``).

        Raises:
            MissingApiKeyError: no key given and ``KIE_API_KEY`` unset.
            InvalidInputError: a bad option, named after the argument or its environment variable.
        """
        from ._scheduler import RateLimits

        given = dict(options)
        if timeout is not None:
            given["timeout"] = timeout
        return cls._resolve(RateLimits, **given)

    @classmethod
    def _resolve(
        cls,
        rate_limits_type: type[RateLimits],
        api_key: str | None,
        *,
        base_url: str | None,
        upload_base_url: str | None,
        webhook_key: str | None,
        timeout: float | httpx.Timeout,
        limits: httpx.Limits,
        max_retries: int | None,
        retry_policy: RetryPolicy | None,
        poll_policy: PollPolicy | None,
        max_download_bytes: int | Mapping[str, int] | None,
        max_reply_bytes: int,
        request_timeout: float | None,
        download_timeout: float | None,
        create_timeout: float,
        upload_path: str,
        allow_http_callback: bool,
        allow_insecure_http: bool,
        clock: Callable[[], float],
        rand: Callable[[], float],
        rate_limits: RateLimits | None,
    ) -> Settings:
        key, key_source = _resolve_key(api_key)
        api_host = _check_base_url(
            *resolve_url(base_url, BASE_URL_ENV, DEFAULT_BASE_URL), allow_insecure_http
        )
        upload_host = _check_base_url(
            *resolve_url(upload_base_url, UPLOAD_BASE_URL_ENV, DEFAULT_UPLOAD_BASE_URL), allow_insecure_http
        )
        hook_key = resolve_webhook_key(webhook_key)
        request_seconds = _positive_seconds("request_timeout", request_timeout)
        download_seconds = _positive_seconds("download_timeout", download_timeout)
        create_seconds = _positive_seconds("create_timeout", create_timeout)
        if not isinstance(max_reply_bytes, int) or max_reply_bytes <= 0:
            raise InvalidInputError("max_reply_bytes", "must be a positive integer")
        from ._download import check_download_caps  # loaded with the first client, not on import

        download_caps = check_download_caps({} if max_download_bytes is None else max_download_bytes)
        phases = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        if retry_policy is None:
            retry_policy = RetryPolicy() if max_retries is None else RetryPolicy(max_retries=max_retries)
        elif max_retries is not None:
            raise InvalidInputError("max_retries", "give max_retries or retry_policy, not both")
        if rate_limits is None:
            rate_limits = rate_limits_type()
        elif not isinstance(rate_limits, rate_limits_type):
            raise InvalidInputError("rate_limits", "must be a kie_gpt_image.RateLimits")
        return cls(
            key=key,
            key_source=key_source,
            base_url=api_host,
            upload_base_url=upload_host,
            webhook_key=hook_key,
            retry_policy=retry_policy,
            poll_policy=poll_policy or PollPolicy(),
            max_download_bytes=download_caps,
            max_reply_bytes=max_reply_bytes,
            timeout=phases,
            limits=limits,
            deadlines=Deadlines(
                request=request_seconds or Deadlines.request_default(phases), download=download_seconds
            ),
            create_timeout=create_seconds or DEFAULT_CREATE_TIMEOUT,
            upload_path=upload_path,
            allow_http_callback=allow_http_callback,
            clock=clock,
            rand=rand,
            rate_limits=rate_limits,
        )

    @property
    def shared_clock(self) -> Callable[[], float]:
        """The clock a shared budget store stamps with: the wall clock unless a clock was injected (then
        it must read the same in every process sharing the store, as a benchmark's scaled one does); in
        memory the client's own clock, so an injected one moves the budgets too."""
        if self.rate_limits.shared and self.clock is time.monotonic:
            return time.time
        return self.clock
