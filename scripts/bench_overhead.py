#!/usr/bin/env python3
"""Issue 25 item 1: the per-call cost of the client against the cheapest correct raw httpx code.

``get_task`` against ``json.loads(http.get(url).content)`` with ``url`` a string built once (the floor
replicate and fal are measured on), and against ``http.get(api, params={"taskId": ...})`` (httpx merges
``params`` into the URL on every call, about 20 us more); ``create_task`` with a URL input against
``http.post(url, json=body)`` of the same body. Sync and async; on one ``httpx.MockTransport`` (the same
reply bytes for every side: the library's own cost laid bare) and over loopback to the emulator in its
own process. Every side of a case runs interleaved call by call in one process; a figure is the median
of ``--runs`` such runs (each the ratio of medians of ``--calls`` calls), with the spread of the runs::

    PYTHONPATH=facade:generated .venv/bin/python scripts/bench_overhead.py [--calls 3000] [--runs 3]
        [--only mock|loopback] [--json] [--profile get_task|create_task]

The client's account limits are raised out of the way (``RateLimits(10**7, ...)``): their bookkeeping
still runs on every call, but a client kept to kie.ai's 8 polls a second would measure its sleeps.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

import kie_gpt_image as kie

ROOT = Path(__file__).resolve().parent.parent
API = "https://api.kie.ai"
RECORD_PATH = "/api/v1/jobs/recordInfo"
CREATE_PATH = "/api/v1/jobs/createTask"
IMAGE = "https://example.com/a.png"
PROMPT = "bench"

RECORD_REPLY = json.dumps(
    {
        "code": 200,
        "msg": "success",
        "data": {
            "taskId": "task_1",
            "model": "gpt-image/1.5-image-to-image",
            "state": "success",
            "param": json.dumps({"model": "gpt-image/1.5-image-to-image", "input": {"prompt": "p"}}),
            "resultJson": json.dumps({"resultUrls": ["https://tempfile.example/r/1.png"]}),
            "failCode": "",
            "failMsg": "",
            "costTime": 1200,
            "createTime": 1765968156336,
            "updateTime": 1765968157536,
            "completeTime": 1765968157536,
        },
    }
).encode()
CREATE_REPLY = json.dumps({"code": 200, "msg": "success", "data": {"taskId": "task_1"}}).encode()
# What Client.create_task(IMAGE, PROMPT) sends (the model's defaults filled in): the raw side's body.
CREATE_BODY = {
    "model": "gpt-image/1.5-image-to-image",
    "input": {"input_urls": [IMAGE], "prompt": PROMPT, "aspect_ratio": "3:2", "quality": "medium"},
}


def unlimited() -> kie.RateLimits:
    """kie.ai's limits raised out of the way (their bookkeeping still runs)."""
    return kie.RateLimits(
        creates_per_window=10**7, create_window=10.0, max_running=10**7, polls_per_second=10**7
    )


def _reply(request: httpx.Request) -> httpx.Response:
    body = CREATE_REPLY if request.url.path == CREATE_PATH else RECORD_REPLY
    return httpx.Response(200, content=body, headers={"content-type": "application/json"})


# ------------------------------------------------------------------------------------------ timing

Sides = dict[str, Callable[[], Any]]


def _interleaved(sides: Sides, calls: int, warm: int = 200) -> dict[str, float]:
    """Median seconds per call of each side, the sides called in turn, call by call."""
    for _ in range(warm):
        for side in sides.values():
            side()
    times: dict[str, list[float]] = {name: [] for name in sides}
    clock = time.perf_counter
    order = list(sides.items())
    for _ in range(calls):
        for name, side in order:
            t0 = clock()
            side()
            times[name].append(clock() - t0)
    return {name: statistics.median(values) for name, values in times.items()}


async def _interleaved_async(sides: dict[str, Callable[[], Awaitable[Any]]], calls: int) -> dict[str, float]:
    for _ in range(200):
        for side in sides.values():
            await side()
    times: dict[str, list[float]] = {name: [] for name in sides}
    clock = time.perf_counter
    order = list(sides.items())
    for _ in range(calls):
        for name, side in order:
            t0 = clock()
            await side()
            times[name].append(clock() - t0)
    return {name: statistics.median(values) for name, values in times.items()}


# ------------------------------------------------------------------------------------------ the cases


def case_sync(operation: str, base: str, key: str, transport: httpx.BaseTransport | None, calls: int):  # type: ignore[no-untyped-def]
    record_url = f"{base}{RECORD_PATH}?taskId=task_1"  # built once: the floor
    with (
        kie.Client(key, base_url=base, transport=transport, rate_limits=unlimited()) as client,
        httpx.Client(transport=transport, headers={"Authorization": f"Bearer {key}"}) as http,
    ):
        if operation == "get_task":
            task_id = _task_id(client)
            record_url = f"{base}{RECORD_PATH}?taskId={task_id}"
            sides: Sides = {
                "ours": lambda: client.get_task(task_id),
                "floor": lambda: json.loads(http.get(record_url).content),
                "params": lambda: json.loads(
                    http.get(base + RECORD_PATH, params={"taskId": task_id}).content
                ),
            }
        else:
            create_url = base + CREATE_PATH
            sides = {
                "ours": lambda: client.create_task(IMAGE, PROMPT),
                "floor": lambda: json.loads(http.post(create_url, json=CREATE_BODY).content),
            }
        return _interleaved(sides, calls)


def case_async(operation: str, base: str, key: str, transport: httpx.AsyncBaseTransport | None, calls: int):  # type: ignore[no-untyped-def]
    async def run() -> dict[str, float]:
        async with (
            kie.AsyncClient(key, base_url=base, transport=transport, rate_limits=unlimited()) as client,
            httpx.AsyncClient(transport=transport, headers={"Authorization": f"Bearer {key}"}) as http,
        ):
            if operation == "get_task":
                task_id = (await client.create_task(IMAGE, PROMPT)).task_id
                record_url = f"{base}{RECORD_PATH}?taskId={task_id}"

                async def floor() -> object:
                    return json.loads((await http.get(record_url)).content)

                async def params() -> object:
                    return json.loads(
                        (await http.get(base + RECORD_PATH, params={"taskId": task_id})).content
                    )

                return await _interleaved_async(
                    {"ours": lambda: client.get_task(task_id), "floor": floor, "params": params}, calls
                )
            create_url = base + CREATE_PATH

            async def post() -> object:
                return json.loads((await http.post(create_url, json=CREATE_BODY)).content)

            return await _interleaved_async(
                {"ours": lambda: client.create_task(IMAGE, PROMPT), "floor": post}, calls
            )

    return asyncio.run(run())


def _task_id(client: kie.Client) -> str:
    return client.create_task(IMAGE, PROMPT).task_id


@contextlib.contextmanager
def emulator_process() -> Iterator[tuple[str, str]]:
    """The emulator CLI in its own process on an ephemeral loopback port, its limits lifted: (base, key)."""
    command = [sys.executable, "-m", "kie_gpt_image.emulator", "--port", "0", "--credits", "1000000000"]
    command += ["--poll-limit", "1000000000", "--rate-limit", "1000000000", "--max-running", "1000000000"]
    here = os.pathsep.join([str(ROOT / "facade"), str(ROOT / "generated")])
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or here}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            if proc.stdout is None:
                raise SystemExit("the emulator printed nothing")
            lines = [proc.stdout.readline().split() for _ in range(5)]
            urls = {words[0]: words[1] for words in lines[1:] if len(words) == 2}
            yield urls["base_url"], urls["api_key"]
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def measure(calls: int, runs: int, only: str | None, loopback_creates: int = 1000) -> dict[str, Any]:
    """Every case: per run the medians of each side; the ratios to the floor per run."""
    results: dict[str, Any] = {}
    cases: list[tuple[str, str, str]] = []
    for where in ("mock", "loopback"):
        if only is not None and where != only:
            continue
        for operation in ("get_task", "create_task"):
            for mode in ("sync", "async"):
                cases.append((where, operation, mode))

    def run_case(where: str, operation: str, mode: str, base: str, key: str) -> None:
        name = f"{where}/{operation}/{mode}"
        per_run = []
        for _ in range(runs):
            transport: Any = None
            if where == "mock":
                transport = httpx.MockTransport(_reply)
            n = loopback_creates if (where, operation) == ("loopback", "create_task") else calls
            medians = (case_sync if mode == "sync" else case_async)(operation, base, key, transport, n)
            per_run.append(medians)
        ratios = sorted(r["ours"] / r["floor"] for r in per_run)
        results[name] = {
            "calls": loopback_creates if (where, operation) == ("loopback", "create_task") else calls,
            "runs": per_run,
            "ratios": ratios,
            "ratio": statistics.median(ratios),
            "ours_us": statistics.median(r["ours"] for r in per_run) * 1e6,
            "floor_us": statistics.median(r["floor"] for r in per_run) * 1e6,
        }
        if "params" in per_run[0]:
            results[name]["params_us"] = statistics.median(r["params"] for r in per_run) * 1e6
            results[name]["params_ratios"] = sorted(r["ours"] / r["params"] for r in per_run)
            results[name]["floor_over_params"] = statistics.median(r["params"] / r["floor"] for r in per_run)
        shown = results[name]
        print(
            f"{name:28} {shown['ratio']:.3f}x of the floor (runs {' / '.join(f'{x:.3f}' for x in ratios)}); "
            f"ours {shown['ours_us']:.0f} us, floor {shown['floor_us']:.0f} us"
            + (f", params= {shown['params_us']:.0f} us" if "params_us" in shown else ""),
            flush=True,
        )

    for where, operation, mode in cases:
        if where == "mock":
            run_case(where, operation, mode, API, "k")
    if any(where == "loopback" for where, _, _ in cases):
        with emulator_process() as (base, key):
            for where, operation, mode in cases:
                if where == "loopback":
                    run_case(where, operation, mode, base, key)
    return results


def profile(operation: str, calls: int) -> None:
    import cProfile
    import pstats

    with kie.Client("k", transport=httpx.MockTransport(_reply), rate_limits=unlimited()) as client:
        call = (
            (lambda: client.get_task("task_1"))
            if operation == "get_task"
            else (lambda: client.create_task(IMAGE, PROMPT))
        )
        for _ in range(200):
            call()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            call()
        profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(35)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000, help="calls per side per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per case (the figure is their median)")
    parser.add_argument(
        "--loopback-create-calls",
        type=int,
        default=1000,
        help="calls per side per run of create_task over loopback (each creates a task in the emulator)",
    )
    parser.add_argument("--only", choices=("mock", "loopback"))
    parser.add_argument("--json", action="store_true", help="print a RESULT line for scripts/bench.py")
    parser.add_argument("--profile", choices=("get_task", "create_task"), help="cProfile one call instead")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.calls)
        return 0
    results = measure(args.calls, args.runs, args.only, args.loopback_create_calls)
    if args.json:
        print("RESULT " + json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
