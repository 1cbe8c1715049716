"""Issue 25 item 3: a gzip bomb's peak RSS growth, httpx's decoding (``iter_bytes``, then the cap) against
the client's bounded decoding (``iter_raw`` + ``_decoding.BoundedDecoder``), for an API reply (``Client.
get_task``, cap 4 MiB, the client's ``max_reply_bytes``) and a download (``Client.read_results``, cap
50 MiB, ``max_download_bytes``), both through the real client on an ``httpx.MockTransport`` that hands the
body over in 64 KiB raw chunks, as a network read would.

Each case runs in a fresh process: peak RSS (``ru_maxrss``) after the imports and the bomb are loaded,
then after the body was refused; the growth is the difference::

    .venv/bin/python scripts/bench_gzip.py [--inflated-mib 400] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

MIB = 1024 * 1024
CAPS = {"reply": 4 * MIB, "download": 50 * MIB}
CHUNK = 64 * 1024  # raw bytes per network read, as httpcore reads them


def make_bomb(path: Path, inflated: int) -> int:
    """A gzip file inflating to ``inflated`` bytes (a PNG signature, then zeros); its size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    with path.open("wb") as out:
        out.write(packer.compress(b"\x89PNG\r\n\x1a\n" + bytes(8)))
        zeros = bytes(MIB)
        for _ in range(inflated // MIB):
            out.write(packer.compress(zeros))
        out.write(packer.flush())
    return path.stat().st_size


def child(bomb_path: str, what: str, how: str) -> None:
    import resource

    import httpx

    import kie_gpt_image as kie

    bomb = Path(bomb_path).read_bytes()
    cap = CAPS[what]
    record = json.dumps(
        {
            "code": 200,
            "msg": "success",
            "data": {
                "taskId": "task_1",
                "state": "success",
                "resultJson": json.dumps({"resultUrls": ["https://results.example/r/1.png"]}),
            },
        }
    ).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        warm_up = request.url.params.get("taskId") == "warm-up"
        if warm_up or (what == "download" and request.url.host != "results.example"):
            return httpx.Response(200, content=record)  # the recordInfo that names the result
        chunks = (bomb[i : i + CHUNK] for i in range(0, len(bomb), CHUNK))
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=chunks)

    transport = httpx.MockTransport(handler)
    refused = False
    if how == "httpx":
        # httpx's own decoding (``iter_bytes``) with the cap counted after it: what the client did before.
        http = httpx.Client(transport=transport)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        size = 0
        parts: list[bytes] = []
        with http.stream("GET", "https://results.example/r/1.png") as response:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > cap:
                    refused = True
                    break
                parts.append(chunk)
    else:
        # The client itself: get_task (a recordInfo reply) or read_results (a download).
        unlimited = kie.RateLimits(polls_per_second=10**7)
        limits = {"max_reply_bytes": CAPS["reply"], "max_download_bytes": CAPS["download"]}
        with kie.Client("k", transport=transport, rate_limits=unlimited, **limits) as client:
            # Warm: the modules a call imports and the connection are in place before the measurement.
            warm = client.get_task("warm-up")
            info = warm if what == "download" else None
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            try:
                if info is None:
                    client.get_task("task_1")
                else:
                    client.read_results(info)
            except (kie.ReplyTooLargeError, kie.ResultTooLargeError):
                refused = True
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"growth_mib": (after - before) / 1024, "refused": refused}))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(*sys.argv[2:5])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inflated-mib", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="kie-bench-gzip-") as folder:
        bomb = Path(folder) / "bomb.gz"
        size = make_bomb(bomb, args.inflated_mib * MIB)
        print(
            f"gzip bomb: {size / MIB:.2f} MiB inflating to {args.inflated_mib} MiB; {CHUNK // 1024} KiB reads"
        )
        for what in ("reply", "download"):
            for how in ("httpx", "bounded"):
                done = subprocess.run(
                    [sys.executable, __file__, "child", str(bomb), what, how],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                outcome = json.loads(done.stdout.strip().splitlines()[-1])
                cap_mib = CAPS[what] / MIB
                outcome["beyond_cap_mib"] = outcome["growth_mib"] - cap_mib
                results[f"{what}/{how}"] = outcome
                print(
                    f"{what:8} {how:8} peak RSS growth {outcome['growth_mib']:7.1f} MiB "
                    f"(cap {cap_mib:.0f} MiB; {outcome['beyond_cap_mib']:+.1f} MiB beyond it); "
                    f"refused by the cap: {outcome['refused']}"
                )
    if args.json:
        print("RESULT " + json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
