"""Issue 25 item 3: a gzip bomb's peak RSS growth, httpx's decoding (``iter_bytes``, then the cap) against
bounded decoding (``iter_raw`` + ``_decoding.BoundedDecoder``), for an API reply (cap 4 MiB, the client's
``max_reply_bytes``) and a download (cap 50 MiB, ``max_download_bytes``, into a ``MemorySink``).

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

    from kie_gpt_image._decoding import BoundedDecoder
    from kie_gpt_image._download import MemorySink

    bomb = Path(bomb_path).read_bytes()
    cap = CAPS[what]

    def handler(request: httpx.Request) -> httpx.Response:
        chunks = (bomb[i : i + CHUNK] for i in range(0, len(bomb), CHUNK))
        return httpx.Response(200, headers={"content-encoding": "gzip"}, content=chunks)

    class TooLarge(Exception):
        pass

    def too_large() -> Exception:
        return TooLarge()

    http = httpx.Client(transport=httpx.MockTransport(handler))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused = False
    with http.stream("GET", "https://kie.example/body") as response:
        try:
            if what == "reply":
                parts: list[bytes] = []
                size = 0
                if how == "httpx":
                    for chunk in response.iter_bytes():  # what the client's _Collector is fed today
                        size += len(chunk)
                        if size > cap:
                            raise TooLarge
                        parts.append(chunk)
                else:
                    decoder = BoundedDecoder(response.headers.get("content-encoding"), cap, too_large)
                    for raw in response.iter_raw():
                        for piece in decoder.decode(raw):
                            parts.append(piece)
            else:
                sink = MemorySink("https://results.example/x.png", cap)
                sink.start(response.status_code, response.headers)
                if how == "httpx":
                    for chunk in response.iter_bytes():  # what the download drivers do today
                        sink.write(chunk)
                else:
                    for raw in response.iter_raw():
                        sink.write_raw(raw)
        except Exception as exc:
            refused = type(exc).__name__ in ("TooLarge", "ResultTooLargeError")
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
