#!/usr/bin/env python3
"""Per-call cost of Client.get_task vs a raw httpx GET + json parse of the same reply, on one
httpx.MockTransport (no network: isolates the library's own overhead). Interleaved, median of N."""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx

import kie_gpt_image as kie

REPLY = json.dumps(
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


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=REPLY, headers={"content-type": "application/json"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5000)
    args = parser.parse_args()
    transport = httpx.MockTransport(handler)
    client = kie.Client(api_key="k", transport=transport)
    raw = httpx.Client(transport=transport, headers={"Authorization": "Bearer k"})
    url = "https://api.kie.ai/api/v1/jobs/recordInfo"
    ours, theirs = [], []
    for _ in range(200):  # warm-up
        client.get_task("task_1")
        raw.get(url, params={"taskId": "task_1"}).json()
    for _ in range(args.n):
        t0 = time.perf_counter()
        client.get_task("task_1")
        t1 = time.perf_counter()
        raw.get(url, params={"taskId": "task_1"}).json()
        t2 = time.perf_counter()
        ours.append(t1 - t0)
        theirs.append(t2 - t1)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"get_task median {a * 1e6:.1f} us; raw httpx GET+json median {b * 1e6:.1f} us", end="; ")
    print(f"ratio {a / b:.3f} (n={args.n})")


if __name__ == "__main__":
    main()
