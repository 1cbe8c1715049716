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
from ._many import EditRequest, ItemOutcome
from ._models import Task, TaskInfo, TaskState, UploadedFile
from ._policies import PollPolicy, RetryPolicy
from ._progress import UploadProgress, UploadProgressCallback
from ._raw import RawResponse
from ._results import AsyncEditResult, AsyncResultImage, EditResult, ResultImage
from ._scheduler import RateLimits
from ._warnings import KieWarning, LoopbackCallbackWarning

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
    "AsyncResultImage",
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
    "ResultImage",
    "ResultTooLargeError",
    "RetryPolicy",
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

# Reprs and tracebacks read kie_gpt_image.Client, not kie_gpt_image._client.Client (as httpx does).
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("kie_gpt_image._"):
        _obj.__module__ = "kie_gpt_image"
del _name, _obj

_configure_logging()  # KIE_LOG=debug|info (see _logging); nothing happens when it is unset
del _configure_logging
