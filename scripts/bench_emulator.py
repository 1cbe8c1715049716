#!/usr/bin/env python3
"""Measure the kie.ai emulator: recordInfo requests/second on loopback sockets with 50 concurrent clients,
and the time of one create → success → result-download cycle in-process.

Loopback only, bounded in count and time: ``.venv/bin/python scripts/bench_emulator.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from kie_gpt_image.emulator import Emulator, Schedule


def _body(prompt: str) -> dict[str, object]:
    return {
        "model": "gpt-image/1.5-image-to-image",
        "input": {
            "input_urls": ["https://example.com/photo.png"],
            "prompt": prompt,
            "aspect_ratio": "3:2",
            "quality": "medium",
        },
    }


ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def _server_in_this_process() -> Iterator[tuple[str, str]]:
    # The recordInfo limit (10 per second, as kie.ai's) is lifted: this measures the server's speed.
    emulator = Emulator(schedule=Schedule.instant(), poll_limit=10**9, rate_limit=10**9)
    with emulator.serve(port=0) as server:
        yield server.base_url, emulator.api_key


@contextlib.contextmanager
def _server_in_a_subprocess() -> Iterator[tuple[str, str]]:
    """The CLI on an ephemeral loopback port: clients and server do not share a GIL."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "facade"), str(ROOT / "generated")])}
    command = [
        *(sys.executable, "-m", "kie_gpt_image.emulator", "--port", "0", "--host", "127.0.0.1"),
        *("--poll-limit", str(10**9), "--rate-limit", str(10**9)),  # limits lifted: the server's speed
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            if proc.stdout is None:
                raise SystemExit("no stdout from the emulator")
            announced = [proc.stdout.readline().split() for _ in range(5)]
            urls = {words[0]: words[1] for words in announced[1:]}
            yield urls["base_url"], urls["api_key"]
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def bench_record_info(clients: int, total: int, seconds: float, separate: bool) -> tuple[int, float]:
    """(requests completed, elapsed seconds) for recordInfo from ``clients`` threads on loopback."""
    done = 0
    failures = 0
    lock = threading.Lock()
    with (_server_in_a_subprocess if separate else _server_in_this_process)() as (base_url, key):
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(headers=headers) as http:
            created = http.post(f"{base_url}/api/v1/jobs/createTask", json=_body("bench"))
            task_id = created.json()["data"]["taskId"]
        url = f"{base_url}/api/v1/jobs/recordInfo"
        start = threading.Barrier(clients + 1)
        deadline = 0.0

        def worker() -> None:
            nonlocal done, failures
            with httpx.Client(headers=headers, timeout=10) as http:
                http.get(url, params={"taskId": task_id})  # open the keep-alive connection before timing
                start.wait()
                while time.perf_counter() < deadline:
                    with lock:
                        if done >= total:
                            return
                        done += 1
                    reply = http.get(url, params={"taskId": task_id})
                    if reply.status_code != 200 or reply.json()["code"] != 200:
                        with lock:
                            failures += 1

        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for thread in threads:
            thread.start()
        began = time.perf_counter()
        deadline = began + seconds
        start.wait()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    if failures:
        raise SystemExit(f"{failures} recordInfo requests failed")
    return done, elapsed


def bench_cycle(runs: int) -> list[float]:
    """Seconds per in-process create → recordInfo (success) → result download, one fresh image each."""
    emulator = Emulator(schedule=Schedule.instant(), poll_limit=10**9, rate_limit=10**9)
    timings = []
    with httpx.Client(
        transport=emulator.transport, headers={"Authorization": f"Bearer {emulator.api_key}"}
    ) as http:
        for run in range(runs):
            began = time.perf_counter()
            created = http.post(f"{emulator.base_url}/api/v1/jobs/createTask", json=_body(f"cycle {run}"))
            task_id = created.json()["data"]["taskId"]
            info = http.get(f"{emulator.base_url}/api/v1/jobs/recordInfo", params={"taskId": task_id}).json()
            if info["data"]["state"] != "success":
                raise SystemExit(f"unexpected record: {info}")
            (result_url,) = json.loads(info["data"]["resultJson"])["resultUrls"]
            image = http.get(result_url)
            if image.status_code != 200 or not image.content.startswith(b"\x89PNG"):
                raise SystemExit(f"unexpected result download: {image}")
            timings.append(time.perf_counter() - began)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20000, help="upper bound on recordInfo requests")
    parser.add_argument("--seconds", type=float, default=8.0, help="upper bound on the timed phase")
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    for separate, where in ((True, "server in its own process"), (False, "server in the clients' process")):
        done, elapsed = bench_record_info(args.clients, args.requests, args.seconds, separate)
        print(
            f"recordInfo over loopback, {args.clients} concurrent keep-alive clients, {where}: "
            f"{done} requests in {elapsed:.2f} s = {done / elapsed:.0f} requests/s"
        )
    timings = bench_cycle(args.cycles)
    median = statistics.median(timings) * 1000
    print(
        f"in-process create -> success -> 1536x1024 result download: median {median:.1f} ms, "
        f"min {min(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms over {len(timings)} cycles "
        "(instant schedule; the default demo schedule adds about 2 s of emulated waiting)"
    )


if __name__ == "__main__":
    main()
