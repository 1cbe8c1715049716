"""Benchmark: the time ``check_image`` adds for a 10 MB input (type, size and completeness, no Pillow).

Prints one JSON line per case: the median of 20 checks of a 10,000,000-byte PNG (the completeness walk
seeks from chunk header to chunk header) and JPEG (segments walked, then the scan data searched for the
end marker), from a path and from bytes in memory. Run: ``.venv/bin/python scripts/bench_inputs.py``.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from kie_gpt_image import _inputs

SIZE = 10_000_000


def _png(chunk: int) -> bytes:
    # A real PNG re-chunked into IDAT chunks of ``chunk`` bytes (libpng writes 8 KiB), padded to SIZE
    # with a private chunk of random bytes, so the walk visits SIZE / chunk headers.
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buffer, "PNG")
    real = buffer.getvalue()
    iend = real[-12:]
    body = real[8:-12]
    payload = os.urandom(SIZE - len(real) - 12 * ((SIZE // chunk) + 1))
    chunks = b"".join(
        len(part).to_bytes(4, "big") + b"prVt" + part + b"\0\0\0\0"
        for part in (payload[i : i + chunk] for i in range(0, len(payload), chunk))
    )
    return real[:8] + body + chunks + iend


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((2600, 2600), 80).convert("RGB").save(buffer, "JPEG", quality=98)
    return buffer.getvalue()


def _median_ms(check: object, value: object, runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        _inputs.check_image("image", value)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 2)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name, data in (
            ("png-8KiB-chunks", _png(8192)),
            ("png-64KiB-chunks", _png(65536)),
            ("jpeg", _jpeg()),
        ):
            path = Path(folder) / name
            path.write_bytes(data)
            print(
                json.dumps(
                    {
                        "case": name,
                        "bytes": len(data),
                        "path_ms": _median_ms(_inputs.check_image, path),
                        "bytes_ms": _median_ms(_inputs.check_image, data),
                    }
                )
            )


if __name__ == "__main__":
    main()
