"""Edit the bundled sample photos: against the offline emulator (default) or the real kie.ai (--real).

    python examples/edit.py                 # no key, no network: a loopback emulator plays kie.ai
    KIE_API_KEY=... python examples/edit.py --real

Both paths run the same code below through the public ``kie_gpt_image.Client``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import kie_gpt_image as kie

SAMPLES = Path(__file__).resolve().parent / "samples"


def edit(client: kie.Client, out: Path) -> list[Path]:
    """Upload the samples, run the edit, save the result; print progress on the way."""
    started = time.monotonic()
    result = client.edit(
        images=[SAMPLES / "person.png", SAMPLES / "dress.jpg"],
        prompt="Dress the person in the red dress from the second image; keep pose and background.",
        aspect_ratio="2:3",
        quality="medium",
        on_progress=lambda info: print(
            f"  {time.monotonic() - started:5.1f}s  task {info.task_id}: {info.state.value}", flush=True
        ),
    )
    return result.save(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--real", action="store_true", help="use the real kie.ai (needs KIE_API_KEY; costs credits)"
    )
    parser.add_argument(
        "-o", "--out", type=Path, default=Path("out"), help="folder for the result (default: out/)"
    )
    args = parser.parse_args()
    try:
        if args.real:
            with kie.Client() as client:
                paths = edit(client, args.out)
        else:
            from kie_gpt_image.emulator import Emulator

            with Emulator() as emulator, emulator.serve(port=0) as server:
                print(f"emulator on {server.base_url}, uploads on {server.upload_base_url}")
                with kie.Client(
                    api_key=emulator.api_key, base_url=server.base_url, upload_base_url=server.upload_base_url
                ) as client:
                    paths = edit(client, args.out)
    except kie.KieError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
