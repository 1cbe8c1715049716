"""Receive kie.ai's signed callbacks: ready-made ASGI/WSGI receivers, or the pure verification underneath.

    from kie_gpt_image import AsyncClient
    from kie_gpt_image.webhooks import asgi_receiver

    client = AsyncClient()

    async def on_task(info):  # the TaskInfo read from kie.ai, after kie.ai got its 200
        ...

    receiver = asgi_receiver(on_task, client=client)  # key from KIE_WEBHOOK_HMAC_KEY
    app.mount("/kie/callback", receiver)               # Starlette / FastAPI

kie.ai signs only the task id and the timestamp, never the body: ``verify_callback`` returns a
``VerifiedCallback`` whose record is ``unverified_info``; the receivers given a ``client`` re-read the
task and hand you the trusted ``TaskInfo``. ``verify_callback`` is pure (no I/O): give it the raw body bytes.
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
from ._receivers import (
    DEFAULT_MAX_BODY_BYTES,
    WEBHOOK_KEY_ENV,
    ASGIReceiver,
    WSGIReceiver,
    asgi_receiver,
    wsgi_receiver,
)
from ._webhooks import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Headers,
    InMemoryReplayStore,
    ReplayGuard,
    ReplayStore,
    VerifiedCallback,
    callback_task_id,
    sign_callback,
    verify_callback,
)

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WEBHOOK_KEY_ENV",
    "ASGIReceiver",
    "BadSignatureError",
    "BadTimestampError",
    "FutureTimestampError",
    "Headers",
    "InMemoryReplayStore",
    "MalformedCallbackError",
    "MissingHeaderError",
    "ReplayGuard",
    "ReplayStore",
    "ReplayedCallbackError",
    "StaleTimestampError",
    "VerifiedCallback",
    "WSGIReceiver",
    "WebhookVerificationError",
    "asgi_receiver",
    "callback_task_id",
    "sign_callback",
    "verify_callback",
    "wsgi_receiver",
]
