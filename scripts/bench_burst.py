"""Issue 25 item 2: creates and polls go out as fast as kie.ai's window allows.

Instant edits through ``edit_many`` against the in-process emulator and its default limits (20 creates
per 10 s, 100 running, 10 polls per second), on the real clock, with the client's default
``RateLimits``; a fresh emulator and client per run, so every run starts with an empty window::

    .venv/bin/python scripts/bench_burst.py [--runs 3] [--small-runs 10] [--json]

Prints, per case, the wall time of each run, and for 40 edits how long after the window reopened the
last of creates 21-40 went out; with ``--json``, one ``RESULT {...}`` line for ``scripts/bench.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import kie_gpt_image as kie
from kie_gpt_image.emulator import Emulator, Schedule

URL = "https://example.com/a.png"
RAISED = kie.RateLimits(10**7, 10.0, 10**7, 10**7)


def _requests(n: int) -> list[kie.EditRequest]:
    return [kie.EditRequest([URL], f"burst {i}") for i in range(n)]


def _emulator(raised: bool) -> Emulator:
    options: dict[str, Any] = {"credits": 10**9, "max_exchanges": 100}
    if raised:
        options.update(rate_limit=10**9, poll_limit=10**9, max_running=10**9)
    emulator = Emulator(schedule=Schedule.instant(), **options)
    return emulator


def _check(outcomes: list[Any], n: int) -> None:
    failed = [o for o in outcomes if getattr(o, "error", None) is not None]
    if len(outcomes) != n or failed:
        raise SystemExit(f"{len(failed)} of {n} edits failed: {failed[:1]}")


def run_sync(n: int, *, raised: bool = False, concurrency: int | None = None) -> tuple[float, float | None]:
    emulator = _emulator(raised)
    options: dict[str, Any] = {"rate_limits": RAISED} if raised else {}
    with emulator.client(**options) as client:
        began = time.time()
        outcomes = list(client.edit_many(_requests(n), concurrency=concurrency))
        took = time.time() - began
    _check(outcomes, n)
    return took, _reopen_spread(emulator, began)


def run_async(n: int, *, raised: bool = False) -> tuple[float, float | None]:
    emulator = _emulator(raised)
    options: dict[str, Any] = {"rate_limits": RAISED} if raised else {}

    async def go() -> tuple[float, list[Any]]:
        async with emulator.async_client(**options) as client:
            began = time.time()
            outcomes = [item async for item in client.edit_many(_requests(n))]
            return began, outcomes

    began, outcomes = asyncio.run(go())
    took = time.time() - began
    _check(outcomes, n)
    return took, _reopen_spread(emulator, began)


def _reopen_spread(emulator: Emulator, began: float) -> float | None:
    """Seconds from the 21st create to the 40th: how long the queued creates took to go once the window
    reopened (``None`` below 40 creates)."""
    times = sorted(emulator.create_times)
    if len(times) < 40:
        return None
    return times[39] - times[20]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of the 40-edit cases")
    parser.add_argument("--small-runs", type=int, default=10, help="runs of the 20-edit and raised cases")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--cases", default="small,raised,2000,40", help="comma-separated cases to run (default: all)"
    )
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    results: dict[str, dict[str, list[float]]] = {}

    def record(name: str, outcome: tuple[float, float | None]) -> None:
        entry = results.setdefault(name, {"seconds": [], "spread": []})
        entry["seconds"].append(outcome[0])
        if outcome[1] is not None:
            entry["spread"].append(outcome[1])
        spread = "" if outcome[1] is None else f" (creates 21-40 within {outcome[1]:.2f} s)"
        print(f"{name:34} {outcome[0]:7.2f} s{spread}", flush=True)

    for _ in range(args.small_runs if "small" in cases else 0):
        record("Client 20 instant edits", run_sync(20))
        record("AsyncClient 20 instant edits", run_async(20))
    for _ in range(args.small_runs if "raised" in cases else 0):
        record("Client 40 edits, raised, 8 threads", run_sync(40, raised=True, concurrency=8))
    for _ in range(args.runs if "2000" in cases else 0):
        record("AsyncClient 2,000 edits, raised", run_async(2000, raised=True))
    for _ in range(args.runs if "40" in cases else 0):
        record("Client 40 instant edits", run_sync(40))
        record("AsyncClient 40 instant edits", run_async(40))
    for name, entry in results.items():
        seconds = entry["seconds"]
        print(
            f"{name:34} median {statistics.median(seconds):.2f} s, "
            f"worst {max(seconds):.2f} s, n={len(seconds)}"
        )
    if args.json:
        print("RESULT " + json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
