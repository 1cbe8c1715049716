#!/usr/bin/env python3
"""kie.ai's three limits met at scale (issue 15), against the emulator on loopback; prints figures.

    .venv/bin/python scripts/bench_limits.py batch [--edits 2000] [--processes 1] [--scale 20]
    .venv/bin/python scripts/bench_limits.py uploads [--runs 7]

``batch``: the emulator (in this process, on loopback sockets) enforces kie.ai's limits (20 new tasks
per 10 s, 100 running, 10 recordInfo polls per second) and draws task durations from 20-90 s, on a clock
running ``--scale`` times faster than real time. ``--processes`` batch processes (``kie-gpt-image batch``
through ``kie_gpt_image._cli.main``, each on its share of the edits) read the same virtual clock; with
more than one they share one SQLite budget (``--rate-store sqlite:///...``). Prints throughput against the
bound min(create limit, running limit / mean duration), the 429s per limit, the most polls in any one
second, and each batch process's peak RSS. All times are virtual (unscaled) seconds.

``uploads``: the wall time of an edit of 16 local images against one of 1 image, with 50 ms of latency
added to each upload (by the client's transport; the emulator in its own process on loopback, instant
tasks, limits lifted), for ``Client`` and ``AsyncClient``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
MEAN_DURATION = (20 + 90) / 2
CREATE = "gpt-image-1-5-image-to-image"


class SharedClock:
    """Virtual seconds ``origin + (time.time() - origin) * scale``: the same in every process given the
    same origin (a ScaledClock starts from its own creation, which differs between processes)."""

    def __init__(self, origin: float, scale: float) -> None:
        self.origin = origin
        self.scale = scale

    def __call__(self) -> float:
        return self.origin + (time.time() - self.origin) * self.scale

    async def asleep(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds / self.scale)


def _png(size: int = 16) -> bytes:
    from PIL import Image  # here, not at the top: the batch processes' RSS must not include Pillow

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------ batch


def _runtime_path(folder: Path) -> str:
    """A ``PYTHONPATH`` holding only what ``pip install kie-gpt-image`` installs: the distribution's
    runtime requirements, recursively (no extras), linked from this environment's site-packages.

    The batch processes run on it with ``python -S`` (no site-packages), so their RSS is a user's: the
    dev environment also holds trio (through selenium), which httpcore imports when it is present, and
    rich, click and pygments (through schemathesis, mkdocs, flask), which httpx imports for its CLI;
    together about 10 MiB that no user of the library pays."""
    import importlib.metadata as metadata
    import re

    found: dict[str, metadata.Distribution] = {}
    pending = ["kie-gpt-image"]
    while pending:
        try:
            dist = metadata.distribution(pending.pop())
        except metadata.PackageNotFoundError:
            continue  # a requirement for older Pythons only (exceptiongroup, say)
        name = dist.metadata["Name"].lower()
        if name in found:
            continue
        found[name] = dist
        for requirement in dist.requires or []:
            marker = requirement.partition(";")[2]
            if "extra" not in marker:
                pending.append(re.split(r"[ <>=!~;\[(]", requirement, maxsplit=1)[0])
    links = folder / "runtime"
    links.mkdir()
    for name, dist in found.items():
        if name == "kie-gpt-image":
            continue  # its packages come from the checkout below
        for file in dist.files or []:
            top = file.parts[0]
            if top.endswith((".dist-info", ".pth")) or top in ("..", "__pycache__", "bin"):
                continue
            target = links / top
            if not target.exists():
                target.symlink_to(Path(str(dist.locate_file(top))))
    return os.pathsep.join([str(links), str(ROOT / "facade"), str(ROOT / "generated")])


def child(args: argparse.Namespace) -> int:
    """One batch process: the CLI's batch on the shared virtual clock; reports its peak RSS."""
    from kie_gpt_image._cli import Context, main

    clock = SharedClock(args.origin, args.scale)
    env = {"KIE_API_KEY": args.key}
    argv = ["batch", args.manifest, "--no-download", "--json", "--rate-store", args.store]
    if args.margin is not None:
        argv += ["--rate-margin", repr(args.margin)]
    if args.webhook_key:  # receive the emulator's callbacks (signed on the same virtual clock)
        env["KIE_WEBHOOK_HMAC_KEY"] = args.webhook_key
        argv += ["--listen", "127.0.0.1:0"]
    ctx = Context(env=env, clock=clock, wall_clock=clock, async_sleep=clock.asleep, tty=False)
    argv += ["--base-url", args.base_url, "--upload-base-url", args.upload_base_url]
    with open(os.devnull, "w") as quiet:  # the batch's own JSON report is not needed here
        sys.stdout = quiet
        code = main(argv, context=ctx)
        sys.stdout = sys.__stdout__
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("BENCH " + json.dumps({"exit": code, "peak_kib": peak_kib}), flush=True)
    return code


def _max_in_window(times: list[float], window: float) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def batch(args: argparse.Namespace) -> int:
    from kie_gpt_image.emulator import Emulator, Schedule

    origin = time.time()
    clock = SharedClock(origin, args.scale)
    emulator = Emulator(
        schedule=Schedule.uniform(20, 90), clock=clock, seed=args.seed, credits=10**9, max_exchanges=100
    )
    bound = min(emulator.rate_limit / emulator.rate_window, emulator.max_running / MEAN_DURATION)
    with tempfile.TemporaryDirectory(prefix="kie-bench-limits-") as folder, emulator.serve(port=0) as server:
        root = Path(folder)
        (root / "in.png").write_bytes(_png())
        store = f"sqlite:///{root / 'budget.db'}" if args.processes > 1 else "memory"
        manifests = []
        for p in range(args.processes):
            share = range(p, args.edits, args.processes)
            lines = [
                json.dumps({"images": ["in.png"], "prompt": f"bench edit {i}", "id": f"e{i}"}) for i in share
            ]
            manifest = root / f"part{p}.jsonl"
            manifest.write_text("\n".join(lines) + "\n")
            manifests.append(manifest)
        started = clock()
        if args.environment == "runtime":
            launch = [sys.executable, "-S"]
            env = {**os.environ, "PYTHONPATH": _runtime_path(root)}
        else:
            launch, env = [sys.executable], None
        children = [
            subprocess.Popen(
                [
                    *launch,
                    __file__,
                    "child",
                    *("--manifest", str(manifest), "--store", store, "--key", emulator.api_key),
                    *("--base-url", server.base_url, "--upload-base-url", server.upload_base_url),
                    *("--origin", repr(origin), "--scale", repr(args.scale)),
                    *(("--webhook-key", emulator.webhook_hmac_key) if args.callbacks else ()),
                    *(("--margin", repr(args.margin)) if args.margin is not None else ()),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # the batch's per-item progress lines
                text=True,
                env=env,
            )
            for manifest in manifests
        ]
        reports = []
        for process in children:
            out, _ = process.communicate(timeout=3600)
            line = next((x for x in out.splitlines() if x.startswith("BENCH ")), None)
            reports.append(json.loads(line[6:]) if line else {"exit": process.returncode, "peak_kib": 0})
        finished = clock()
        times = sorted(emulator.create_times)
        counters = emulator.limit_counters
        polls = emulator.call_count("get-task-details")
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    rate = (len(times) - 1) / span
    print(
        f"edits {args.edits} over {args.processes} process(es), store {store.split(':')[0]}, "
        f"scale x{args.scale:g}, " + ("callbacks and polls" if args.callbacks else "polls only")
    )
    print(f"exit codes            {[r['exit'] for r in reports]}")
    print(f"tasks created         {len(times)}")
    print(f"throughput            {rate:.3f} tasks/s over the creates' span ({span:.0f} s)")
    print(f"bound                 {bound:.3f} tasks/s = min(20 per 10 s, 100 running / {MEAN_DURATION:g} s)")
    print(f"throughput / bound    {rate / bound:.1%}")
    print(
        f"whole run             {finished - started:.0f} s for {args.edits} edits "
        f"({args.edits / (finished - started):.3f}/s)"
    )
    print(
        f"429s                  create window {counters.create_rate_429s}, "
        f"running cap {counters.running_429s}, "
        f"polls {counters.poll_429s}"
    )
    print(f"most creates in 10 s  {_max_in_window(times, 10.0)} (limit 20)")
    print(f"peak running          {counters.peak_running} (limit 100)")
    print(
        f"most polls in 1 s     {counters.max_polls_per_second} (budget 8; kie.ai 10); {polls} polls in all"
    )
    print(
        f"peak RSS per process  {[round(r['peak_kib'] / 1024, 1) for r in reports]} MiB "
        f"({args.environment} environment)"
    )
    result = {
        "fraction": rate / bound,
        "rate": rate,
        "bound": bound,
        "create_429s": counters.create_rate_429s,
        "running_429s": counters.running_429s,
        "poll_429s": counters.poll_429s,
        "max_polls_per_second": counters.max_polls_per_second,
        "peak_running": counters.peak_running,
        "peak_mib": max(r["peak_kib"] for r in reports) / 1024,
        "exits": [r["exit"] for r in reports],
        "callbacks": args.callbacks,
        "environment": args.environment,
    }
    print("RESULT " + json.dumps(result))
    return 0 if all(r["exit"] == 0 for r in reports) else 1


# ------------------------------------------------------------------------------------------ uploads


class _Latency(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """The emulator's transport with ``delay`` seconds added to every upload."""

    def __init__(self, inner: Any, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if "upload" in request.url.path:
            time.sleep(self.delay)
        return self.inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "upload" in request.url.path:
            await asyncio.sleep(self.delay)
        return await self.inner.handle_async_request(request)


def _emulator_process() -> tuple[subprocess.Popen[str], dict[str, str]]:
    """The emulator CLI in its own process (its CPU is not ours), instant tasks, limits lifted."""
    command = [sys.executable, "-m", "kie_gpt_image.emulator", "--port", "0", "--durations", "0", "0"]
    command += ["--poll-limit", "1000000", "--rate-limit", "1000000", "--credits", "1000000000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    if process.stdout is None:
        raise SystemExit("the emulator printed nothing")
    lines = [process.stdout.readline().split() for _ in range(5)]
    return process, {words[0]: words[1] for words in lines[1:] if len(words) == 2}


class _CannedUploads(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """Uploads answered at once with a canned reply (no server time at all); everything else goes to
    ``inner`` (the in-process emulator). Isolates the client: the emulator parses each multipart upload
    on one GIL, about 3 ms each, which would otherwise serialize 16 concurrent uploads."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @staticmethod
    def _canned(request: httpx.Request) -> httpx.Response:
        request.read()
        data = {
            "fileName": "in.png",
            "filePath": "images/in.png",
            "downloadUrl": "https://tempfile.redpandaai.co/images/in.png",
            "fileSize": len(request.content),
            "mimeType": "image/png",
            "uploadedAt": "2025-01-01T12:00:00.000Z",
        }
        body = {"success": True, "code": 200, "msg": "File uploaded successfully", "data": data}
        return httpx.Response(200, json=body, request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if "upload" in request.url.path:
            return self._canned(request)
        return self.inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "upload" in request.url.path:
            return self._canned(request)
        return await self.inner.handle_async_request(request)


def uploads(args: argparse.Namespace) -> int:
    import kie_gpt_image as kie
    from kie_gpt_image.emulator import Emulator

    process: subprocess.Popen[str] | None = None
    if args.server == "emulator":
        process, urls = _emulator_process()
        sync_inner: Any = httpx.HTTPTransport()
        async_inner: Any = httpx.AsyncHTTPTransport()
    else:
        emulator = Emulator(credits=10**9, poll_limit=10**9, rate_limit=10**9)
        emulator.schedule = type(emulator.schedule).instant()
        urls = {"api_key": emulator.api_key, "base_url": emulator.base_url}
        urls["upload_base_url"] = emulator.upload_base_url
        sync_inner = async_inner = _CannedUploads(emulator.transport)
    images = [_png(16 + i) for i in range(16)]
    options: dict[str, Any] = {
        "api_key": urls["api_key"],
        "base_url": urls["base_url"],
        "upload_base_url": urls["upload_base_url"],
    }

    def sync_edit(client: kie.Client, count: int) -> float:
        began = time.perf_counter()
        client.edit(images[:count], "bench")
        return time.perf_counter() - began

    async def async_edit(client: kie.AsyncClient, count: int) -> float:
        began = time.perf_counter()
        await client.edit(images[:count], "bench")
        return time.perf_counter() - began

    results: dict[str, dict[int, list[float]]] = {"Client": {1: [], 16: []}, "AsyncClient": {1: [], 16: []}}
    with kie.Client(transport=_Latency(sync_inner, args.latency), **options) as client:
        sync_edit(client, 1)  # warm-up
        for _ in range(args.runs):
            for count in (1, 16):
                results["Client"][count].append(sync_edit(client, count))

    async def run_async() -> None:
        async with kie.AsyncClient(transport=_Latency(async_inner, args.latency), **options) as client:
            await async_edit(client, 1)
            for _ in range(args.runs):
                for count in (1, 16):
                    results["AsyncClient"][count].append(await async_edit(client, count))

    try:
        asyncio.run(run_async())
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
    ratios = {}
    for name, by_count in results.items():
        one, many = statistics.median(by_count[1]), statistics.median(by_count[16])
        ratios[name] = {"ratio": many / one, "one_ms": one * 1000, "many_ms": many * 1000}
        print(
            f"{name:12} 16-image edit / 1-image edit: {many / one:.2f}x "
            f"(medians {many * 1000:.0f} ms vs {one * 1000:.0f} ms over {args.runs} runs; "
            f"{args.latency * 1000:.0f} ms per upload; uploads answered by the {args.server})"
        )
    print("RESULT " + json.dumps(ratios))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    run = sub.add_parser("batch")
    run.add_argument("--edits", type=int, default=2000)
    run.add_argument("--processes", type=int, default=1)
    run.add_argument("--scale", type=float, default=20.0)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--margin", type=float, default=None, help="the batches' --rate-margin (default the CLI's, 0.25 s)"
    )
    run.add_argument(
        "--callbacks",
        action="store_true",
        help="each batch process receives the emulator's callbacks (--listen)",
    )
    run.add_argument(
        "--environment",
        choices=("runtime", "dev"),
        default="runtime",
        help="the batch processes import only the library's runtime requirements (as after `pip install "
        "kie-gpt-image`), or everything in .venv (the dev tools too)",
    )
    one = sub.add_parser("child")
    for name in ("--manifest", "--store", "--key", "--base-url", "--upload-base-url"):
        one.add_argument(name, required=True)
    one.add_argument("--origin", type=float, required=True)
    one.add_argument("--scale", type=float, required=True)
    one.add_argument("--webhook-key", default=None)
    one.add_argument("--margin", type=float, default=None)
    up = sub.add_parser("uploads")
    up.add_argument("--runs", type=int, default=7)
    up.add_argument("--latency", type=float, default=0.05, help="seconds added to each upload")
    up.add_argument("--server", choices=("canned", "emulator"), default="canned", help="who answers uploads")
    args = parser.parse_args()
    return {"batch": batch, "child": child, "uploads": uploads}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
