"""kie-gpt-image: a Python client for kie.ai's GPT Image models (1.5 and 2, image-to-image and
text-to-image).

    import kie_gpt_image as kie

    with kie.Client() as client:                      # key from KIE_API_KEY, or api_key=...
        result = client.edit(images=["person.jpg", "dress.png"], prompt="Dress the woman in ...")
        result.save("out/edited.png")                 # or "out/" for a folder; result.images[0].read()
        client.generate("a red fox", model="gpt-image-2-text-to-image", resolution="2K").save("out/")

Everything public is re-exported here; the exception tree is drawn in ``kie_gpt_image._errors``.
``kie_gpt_image.emulator`` (an offline kie.ai) and ``kie_gpt_image.webhooks`` are imported on demand.
"""

import importlib as _importlib
import typing as _typing

from ._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BadSignatureError,
    BadTimestampError,
    ClientClosedError,
    DestinationError,
    DownloadError,
    FeatureDisabledError,
    FutureTimestampError,
    GenerationFailedError,
    InsufficientCreditsError,
    InvalidInputError,
    KieError,
    MaintenanceError,
    MalformedCallbackError,
    MissingApiKeyError,
    MissingHeaderError,
    NotFoundError,
    RateLimitError,
    ReplayedCallbackError,
    ReplyTooLargeError,
    RequestTimeoutError,
    ResultTooLargeError,
    ServerError,
    StaleTimestampError,
    SubmissionOutcomeUnknownError,
    TaskFailedError,
    TransportError,
    UnexpectedResponseError,
    UnprocessableRequestError,
    UpstreamTimeoutError,
    UsageCapExceededError,
    WaitTimeoutError,
    WebhookVerificationError,
)
from ._logging import configure_from_environment as _configure_logging
from ._warnings import KieWarning, LoopbackCallbackWarning

if _typing.TYPE_CHECKING:
    from ._api import (
        ASPECT_RATIOS,
        DEFAULT_ASPECT_RATIO,
        DEFAULT_GENERATE_MODEL,
        DEFAULT_QUALITY,
        MODEL,
        MODELS,
        QUALITIES,
    )
    from ._client import (
        DEFAULT_BASE_URL,
        DEFAULT_MAX_DOWNLOAD_BYTES,
        DEFAULT_MAX_REPLY_BYTES,
        DEFAULT_TIMEOUT,
        DEFAULT_UPLOAD_BASE_URL,
        AsyncClient,
        Client,
        ProgressCallback,
    )
    from ._many import EditRequest, ItemOutcome
    from ._models import Task, TaskInfo, TaskState, UploadedFile
    from ._policies import PollPolicy, RetryPolicy
    from ._progress import UploadProgress, UploadProgressCallback
    from ._raw import RawResponse
    from ._results import (
        AsyncEditResult,
        AsyncResultFile,
        AsyncResultImage,
        AsyncRunResult,
        EditResult,
        ResultFile,
        ResultImage,
        RunResult,
    )
    from ._scheduler import RateLimits

# Every other public name is imported on first use (PEP 562): `import kie_gpt_image` then costs about what
# `import httpx` does, and a program pays only for the parts it touches (issue 14; BENCHMARKS.md figure 2).
_LAZY: dict[str, str] = {
    "ASPECT_RATIOS": "_api",
    "AsyncClient": "_client",
    "AsyncEditResult": "_results",
    "AsyncResultFile": "_results",
    "AsyncResultImage": "_results",
    "AsyncRunResult": "_results",
    "Client": "_client",
    "DEFAULT_ASPECT_RATIO": "_api",
    "DEFAULT_BASE_URL": "_client",
    "DEFAULT_GENERATE_MODEL": "_api",
    "DEFAULT_MAX_DOWNLOAD_BYTES": "_client",
    "DEFAULT_MAX_REPLY_BYTES": "_client",
    "DEFAULT_QUALITY": "_api",
    "DEFAULT_TIMEOUT": "_client",
    "DEFAULT_UPLOAD_BASE_URL": "_client",
    "EditRequest": "_many",
    "EditResult": "_results",
    "ItemOutcome": "_many",
    "MODEL": "_api",
    "MODELS": "_api",
    "PollPolicy": "_policies",
    "ProgressCallback": "_client",
    "QUALITIES": "_api",
    "RateLimits": "_scheduler",
    "RawResponse": "_raw",
    "ResultFile": "_results",
    "ResultImage": "_results",
    "RetryPolicy": "_policies",
    "RunResult": "_results",
    "Task": "_models",
    "TaskInfo": "_models",
    "TaskState": "_models",
    "UploadProgress": "_progress",
    "UploadProgressCallback": "_progress",
    "UploadedFile": "_models",
}

__version__ = "0.1.0"

__all__ = [
    "ASPECT_RATIOS",
    "DEFAULT_ASPECT_RATIO",
    "DEFAULT_BASE_URL",
    "DEFAULT_GENERATE_MODEL",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_MAX_REPLY_BYTES",
    "DEFAULT_QUALITY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_UPLOAD_BASE_URL",
    "MODEL",
    "MODELS",
    "QUALITIES",
    "APIError",
    "AsyncClient",
    "AsyncEditResult",
    "AsyncResultFile",
    "AsyncResultImage",
    "AsyncRunResult",
    "AuthenticationError",
    "BadRequestError",
    "BadSignatureError",
    "BadTimestampError",
    "Client",
    "ClientClosedError",
    "DestinationError",
    "DownloadError",
    "EditRequest",
    "EditResult",
    "FeatureDisabledError",
    "FutureTimestampError",
    "GenerationFailedError",
    "InsufficientCreditsError",
    "InvalidInputError",
    "ItemOutcome",
    "KieError",
    "KieWarning",
    "LoopbackCallbackWarning",
    "MaintenanceError",
    "MalformedCallbackError",
    "MissingApiKeyError",
    "MissingHeaderError",
    "NotFoundError",
    "PollPolicy",
    "ProgressCallback",
    "RateLimitError",
    "RateLimits",
    "RawResponse",
    "ReplayedCallbackError",
    "ReplyTooLargeError",
    "RequestTimeoutError",
    "ResultFile",
    "ResultImage",
    "ResultTooLargeError",
    "RetryPolicy",
    "RunResult",
    "ServerError",
    "StaleTimestampError",
    "SubmissionOutcomeUnknownError",
    "Task",
    "TaskFailedError",
    "TaskInfo",
    "TaskState",
    "TransportError",
    "UnexpectedResponseError",
    "UnprocessableRequestError",
    "UploadProgress",
    "UploadProgressCallback",
    "UploadedFile",
    "UpstreamTimeoutError",
    "UsageCapExceededError",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "__version__",
]


def _public(value: object) -> None:
    # Reprs and tracebacks read kie_gpt_image.Client, not kie_gpt_image._client.Client (as httpx does).
    if isinstance(value, type) and value.__module__.startswith("kie_gpt_image._"):
        value.__module__ = "kie_gpt_image"


def __getattr__(name: str) -> object:
    """Import a public name's module on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kie_gpt_image' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f".{module}", __name__), name)
    _public(value)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


for _name in __all__:
    if _name in globals():
        _public(globals()[_name])
del _name

_configure_logging()  # KIE_LOG=debug|info (see _logging); nothing happens when it is unset
del _configure_logging
