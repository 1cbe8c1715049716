"""Verify kie.ai's signed callbacks and turn them into the same ``TaskInfo`` as polling.

    from kie_gpt_image.webhooks import ReplayGuard, verify_callback

    guard = ReplayGuard()
    info = verify_callback(raw_body, request_headers, key=WEBHOOK_HMAC_KEY, replay_guard=guard)

Pure functions (no I/O): the same call serves sync and async frameworks. Give it the raw body bytes.
"""

from ._errors import (
    BadSignatureError,
    BadTimestampError,
    FutureTimestampError,
    MalformedCallbackError,
    MissingHeaderError,
    ReplayedCallbackError,
    StaleTimestampError,
    WebhookVerificationError,
)
from ._webhooks import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InMemoryReplayStore,
    ReplayGuard,
    ReplayStore,
    callback_task_id,
    sign_callback,
    verify_callback,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "BadSignatureError",
    "BadTimestampError",
    "FutureTimestampError",
    "InMemoryReplayStore",
    "MalformedCallbackError",
    "MissingHeaderError",
    "ReplayGuard",
    "ReplayStore",
    "ReplayedCallbackError",
    "StaleTimestampError",
    "WebhookVerificationError",
    "callback_task_id",
    "sign_callback",
    "verify_callback",
]
