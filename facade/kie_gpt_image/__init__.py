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
    BudgetStoreError,
    ClientClosedError,
    DestinationError,
    DownloadError,
    FeatureDisabledError,
    GenerationFailedError,
    InsufficientCreditsError,
    InvalidInputError,
    KieError,
    MaintenanceError,
    MalformedCallbackError,
    MissingApiKeyError,
    NotFoundError,
    RateLimitError,
    ReplayedCallbackError,
    ReplyTooLargeError,
    RequestTimeoutError,
    ResultTooLargeError,
    ServerError,
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
from ._warnings import CreateRefusedWarning, KieWarning, LoopbackCallbackWarning

if _typing.TYPE_CHECKING:
    from ._api import (
        ASPECT_RATIOS as ASPECT_RATIOS,  # deprecated: MODELS[model].field("aspect_ratio").enum
    )
    from ._api import (
        DEFAULT_ASPECT_RATIO,
        DEFAULT_GENERATE_MODEL,
        DEFAULT_QUALITY,
        MODELS,
    )
    from ._api import MODEL as DEFAULT_EDIT_MODEL
    from ._api import (
        MODEL as MODEL,  # deprecated: DEFAULT_EDIT_MODEL
    )
    from ._api import (
        QUALITIES as QUALITIES,  # deprecated: MODELS[model].field("quality").enum
    )
    from ._async_client import AsyncClient
    from ._client import (
        DEFAULT_BASE_URL,
        DEFAULT_MAX_DOWNLOAD_BYTES,
        DEFAULT_MAX_REPLY_BYTES,
        DEFAULT_TIMEOUT,
        DEFAULT_UPLOAD_BASE_URL,
        Client,
        ProgressCallback,
    )
    from ._many import EditRequest, ItemOutcome
    from ._models import Task, TaskInfo, TaskState, UploadedFile
    from ._notebook import Progress
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
    "AsyncClient": "_async_client",
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
    "MODELS": "_api",
    "PollPolicy": "_policies",
    "Progress": "_notebook",
    "ProgressCallback": "_client",
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

# Public names under another name in their module.
_RENAMED: dict[str, tuple[str, str]] = {"DEFAULT_EDIT_MODEL": ("_api", "MODEL")}
# Names that left the root (issue 26 item 3): still importable, with a DeprecationWarning saying what to use.
_DEPRECATED: dict[str, tuple[str, str]] = {
    "MODEL": ("DEFAULT_EDIT_MODEL", "use kie_gpt_image.DEFAULT_EDIT_MODEL"),
    "ASPECT_RATIOS": (
        "ASPECT_RATIOS",
        "read kie_gpt_image.MODELS[model].field('aspect_ratio').enum (each model has its own)",
    ),
    "QUALITIES": (
        "QUALITIES",
        "read kie_gpt_image.MODELS[model].field('quality').enum (each model has its own)",
    ),
}

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ASPECT_RATIO",
    "DEFAULT_BASE_URL",
    "DEFAULT_EDIT_MODEL",
    "DEFAULT_GENERATE_MODEL",
    "DEFAULT_MAX_DOWNLOAD_BYTES",
    "DEFAULT_MAX_REPLY_BYTES",
    "DEFAULT_QUALITY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_UPLOAD_BASE_URL",
    "MODELS",
    "APIError",
    "AsyncClient",
    "AsyncEditResult",
    "AsyncResultFile",
    "AsyncResultImage",
    "AsyncRunResult",
    "AuthenticationError",
    "BadRequestError",
    "BudgetStoreError",
    "Client",
    "ClientClosedError",
    "CreateRefusedWarning",
    "DestinationError",
    "DownloadError",
    "EditRequest",
    "EditResult",
    "FeatureDisabledError",
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
    "NotFoundError",
    "PollPolicy",
    "Progress",
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
    """Import a public name's module on first use (PEP 562); warn for a deprecated name."""
    if name in _DEPRECATED:
        target, advice = _DEPRECATED[name]
        import warnings

        warnings.warn(f"kie_gpt_image.{name} is deprecated: {advice}", DeprecationWarning, stacklevel=2)
        if target != name:
            return __getattr__(target)
        return getattr(_importlib.import_module("._api", __name__), name)  # not cached: warn every time
    module, attribute = _RENAMED.get(name, (_LAZY.get(name), name))
    if module is None:
        raise AttributeError(f"module 'kie_gpt_image' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f".{module}", __name__), attribute)
    _public(value)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_RENAMED))


for _name in __all__:
    if _name in globals():
        _public(globals()[_name])
del _name

_configure_logging()  # KIE_LOG=debug|info (see _logging); nothing happens when it is unset
del _configure_logging
