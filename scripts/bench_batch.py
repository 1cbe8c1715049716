"""Measure the batch runner on the loopback emulator (no network beyond 127.0.0.1, bounded in time).

    .venv/bin/python scripts/bench_batch.py [--items 1000] [--rate 100] [--concurrency 100] [--download]

The emulator runs in this process on loopback sockets with its rate limit set to ``--rate`` creates per
second; the batch runs as a separate process (the installed ``kie-gpt-image`` console script) with the
same client-side limit, so its peak RSS is its own (``RUSAGE_CHILDREN``). Prints: achieved creates per
second against the limit, 429s the emulator answered, wall time, and the batch's peak RSS.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from kie_gpt_image.emulator import Emulator, Schedule

CREATE = "gpt-image-1-5-image-to-image"


def _png(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (index % 256, (index // 256) % 256, 128)).save(buffer, "PNG")
    return buffer.getvalue()


def _max_in_window(times: list[float], window: float) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=100, help="creates per second (emulator and client)")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--download", action="store_true", help="also download every result image")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    args = parser.parse_args()

    script = Path(sys.executable).with_name("kie-gpt-image")
    # A fast schedule: 0.1 s from creation to success.
    emulator = Emulator(
        schedule=Schedule(waiting=0.02, queuing=0.02, generating=0.06),
        rate_limit=args.rate,
        rate_window=1.0,
        max_running=10**6,  # this is about createTask throughput: the other two limits are lifted
        poll_limit=10**6,
        credits=10 * args.items * 4,
    )
    with tempfile.TemporaryDirectory(prefix="kie-bench-") as folder, emulator.serve(port=0) as server:
        root = Path(folder)
        lines = []
        for i in range(args.items):
            (root / f"in{i}.png").write_bytes(_png(i))  # one small distinct input per item
            lines.append(json.dumps({"images": [f"in{i}.png"], "prompt": f"bench edit {i}", "out": "out"}))
        manifest = root / "bench.jsonl"
        manifest.write_text("\n".join(lines) + "\n")
        command = [
            str(script),
            "batch",
            str(manifest),
            "--concurrency",
            str(args.concurrency),
            "--rate-limit",
            str(args.rate),
            "--rate-window",
            "1",
            "--max-running",
            str(10**6),
            "--poll-rate",
            str(10**6),
            # A 1 s window: the default 0.25 s margin (sized for kie.ai's 10 s window) would cost 20%.
            "--rate-margin",
            "0.02",
            "--poll-interval",
            "0.05",
            "--json",
            "--base-url",
            server.base_url,
            "--upload-base-url",
            server.upload_base_url,
            *([] if args.download else ["--no-download"]),
        ]
        env = {**os.environ, "KIE_API_KEY": emulator.api_key}
        started = time.perf_counter()
        # Our own console script, with arguments built here.
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=args.timeout, check=False
        )
        wall = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
        times = emulator.create_times
        calls = emulator.call_count(CREATE)
        polls = emulator.call_count("get-task-details")

    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    print("command (shape):", " ".join(["kie-gpt-image", *command[1:]]).replace(str(manifest), "<manifest>"))
    print(f"items                 {args.items} (downloads {'on' if args.download else 'off'})")
    print(f"exit code             {done.returncode}; counts {report.get('counts')}")
    print(
        f"createTask accepted   {len(times)} of {calls} calls; "
        f"429s seen by the emulator: {calls - len(times)}"
    )
    print(
        f"achieved creates/s    {(len(times) - 1) / span if span else float('nan'):.1f} (limit {args.rate}/s)"
    )
    print(f"max creates in any 1 s window: {_max_in_window(times, 1.0)}")
    print(f"recordInfo polls      {polls} ({polls / wall:.0f}/s)")
    print(f"wall time             {wall:.2f} s (batch process, including start-up and validation)")
    print(f"peak RSS (batch)      {peak_kib / 1024:.1f} MiB")
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
