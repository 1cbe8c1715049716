"""The API key as a secret, the bearer auth that sends it, and the one rule for masking it.

A key is held by ``Secret`` (no repr, log line or traceback local shows it) and put on a request only
inside httpx's auth step (``BearerAuth``). Wherever text may echo it (kie.ai's message for a refused key,
a log line), ``Secret.mask`` replaces it: only where it stands as a whole token (not inside a longer
word), and only for a key long enough to be one (``MIN_MASKED_LENGTH``): a short test key such as
``image`` must not turn every message into ``kie-gpt-***: error: ***s[0]`` (issue 24 item 11).
"""

from __future__ import annotations

import re
from collections.abc import Generator

import httpx

__all__ = ["KEY_MASK", "MIN_MASKED_LENGTH", "BearerAuth", "Secret"]

KEY_MASK = "<API key hidden>"
"""What a masked key reads as."""
MIN_MASKED_LENGTH = 8
"""Keys shorter than this are not masked in text: no real key is that short (kie.ai's are 32
characters), and masking a common word garbles every message that contains it."""


class Secret:
    """A secret string (an API key, a webhook HMAC key) that no repr, log line or traceback local shows.

    Args:
        value: the secret.
        label: what ``repr`` calls it (``API key``, ``webhook key``).
    """

    __slots__ = ("_label", "_pattern", "_value")

    def __init__(self, value: str, label: str = "API key") -> None:
        self._value = value
        self._label = label
        # A whole token: not preceded or followed by a character a key could go on with.
        self._pattern = (
            re.compile(rf"(?<![A-Za-z0-9_\-]){re.escape(value)}(?![A-Za-z0-9_\-])")
            if len(value) >= MIN_MASKED_LENGTH
            else None
        )

    def reveal(self) -> str:
        """The secret itself (for the one place that sends it)."""
        return self._value

    def tail(self) -> str | None:
        """At most the last four characters, and none of a key so short that four would give much of it
        away (said when kie.ai refuses the key, so the user can tell which one it was)."""
        return self._value[-4:] if len(self._value) >= 16 else None

    def mask(self, text: str, replacement: str = KEY_MASK) -> str:
        """``text`` with every whole-token occurrence of the secret replaced (see the module docstring)."""
        if self._pattern is None or self._value not in text:
            return text
        return self._pattern.sub(replacement, text)

    def __repr__(self) -> str:
        return f"<{self._label} hidden>"


class BearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <key>`` inside httpx's auth step, so that no frame of ours holds
    the header: error reporters that capture locals (Sentry, rich) see only this object's repr."""

    def __init__(self, key: Secret) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the header and send the request once."""
        request.headers["Authorization"] = f"Bearer {self._key.reveal()}"
        yield request

    def __repr__(self) -> str:
        return "<bearer auth, key hidden>"
