"""An offline kie.ai for tests and demos: no key, no network, no money.

It serves every endpoint of the published spec (createTask, recordInfo, credits, download-url and the
three uploads) with kie.ai's envelopes and codes, and createTask for every market model of the generated
catalog, image, video and audio (each body checked against its model's document, media fields against
the files it holds), moves tasks through ``waiting → queuing → generating → success|fail`` on an
injectable clock, answers each model's result shape with a small valid file of its media kind (PNGs with
Pillow, extra ``kie-gpt-image[emulator]``; an H.264 MP4; a WAV) or its documented data, signs and delivers
callbacks, and injects faults on request. Nothing imports this subpackage by default.

Usage::

    import httpx
    from kie_gpt_image.emulator import Emulator, Fault, Schedule

    emulator = Emulator(schedule=Schedule.instant())
    emulator.faults.on("get-task-details", 1, Fault.http_error(502))   # first poll hits a 502 page
    with httpx.Client(transport=emulator.transport, base_url=emulator.base_url,
                      headers={"Authorization": f"Bearer {emulator.api_key}"}) as http:
        body = {"model": "gpt-image/1.5-image-to-image", "input": {"input_urls": [], "prompt": "a cat",
                "aspect_ratio": "1:1", "quality": "medium"}}
        task_id = http.post("/api/v1/jobs/createTask", json=body).json()["data"]["taskId"]
        assert http.get("/api/v1/jobs/recordInfo", params={"taskId": task_id}).status_code == 502

On real sockets: ``with emulator.serve(port=0) as server: ...`` or ``python -m kie_gpt_image.emulator``
(it prints the ``export KIE_...`` lines that point a client at it).

Like kie.ai (reference §6), it answers code 429 past about 20 new tasks per 10 s (``rate_limit``), about
100 tasks running at once (``max_running``) and about 10 recordInfo polls per second (``poll_limit``);
``Emulator.limit_counters`` says how often. ``Emulator.stats()`` (and, on sockets, ``GET /_emulator/stats``,
outside the kie.ai API; ``fetch_stats`` or ``python -m kie_gpt_image.emulator stats``) tells the calls,
429s, credits used and left, and tasks by state. ``Schedule.uniform(20, 90)`` draws real-looking task
durations (seeded), and a ``ScaledClock`` plays them back faster. Callbacks go to loopback hosts only unless
``callback_hosts="any"``; failed deliveries are logged on ``kie_gpt_image.emulator``.
"""

from types import FunctionType

from ._callbacks import CallbackAttempt, CallbackHosts
from ._clock import ScaledClock
from ._core import (
    DEFAULT_API_KEY,
    DEFAULT_CREDITS,
    DEFAULT_TASK_COST,
    DEFAULT_WEBHOOK_HMAC_KEY,
    Emulator,
    ErrorStatus,
)
from ._exchange import Dispatch, Exchange, HostKind
from ._faults import ENDPOINTS, Fault, FaultKind, FaultPlan
from ._images import DEFAULT_MAX_IMAGE_SIDE, EmulatorDependencyError, size_for
from ._limits import LimitCounters
from ._run import serve
from ._server import EmulatorServer
from ._stats import STATS_PATH, EmulatorStats, fetch_stats
from ._tasks import Outcome, OutcomePolicy, Schedule
from ._transport import EmulatorTransport

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_CREDITS",
    "DEFAULT_MAX_IMAGE_SIDE",
    "DEFAULT_TASK_COST",
    "DEFAULT_WEBHOOK_HMAC_KEY",
    "ENDPOINTS",
    "STATS_PATH",
    "CallbackAttempt",
    "CallbackHosts",
    "Dispatch",
    "Emulator",
    "EmulatorDependencyError",
    "EmulatorServer",
    "EmulatorStats",
    "EmulatorTransport",
    "ErrorStatus",
    "Exchange",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "HostKind",
    "LimitCounters",
    "Outcome",
    "OutcomePolicy",
    "ScaledClock",
    "Schedule",
    "fetch_stats",
    "serve",
    "size_for",
]

# Reprs and docs read kie_gpt_image.emulator.Emulator, not the private module (as httpx does).
for _obj in (globals()[_name] for _name in __all__):
    if isinstance(_obj, type) or isinstance(_obj, FunctionType):
        _obj.__module__ = __name__
