"""Fixtures for the CLI tests: an in-process emulator with a recognisable key, and a ``run`` helper that
calls ``main`` against it and returns what the user would see."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_support import SECRET_KEY, Result, Run, png_bytes

from kie_gpt_image._cli import Context, main
from kie_gpt_image.emulator import Emulator, Schedule


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "in.png"
    path.write_bytes(png_bytes())
    return path


@pytest.fixture
def emulator() -> Emulator:
    # A high rate limit by default; the rate-limit tests build their own emulator.
    return Emulator(
        api_key=SECRET_KEY,
        schedule=Schedule.instant(),
        rate_limit=100_000,
        poll_limit=100_000,
        credits=100_000,
    )


@pytest.fixture
def run(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> Run:
    """``run("edit", "a.png", "-p", "x", tty=True)``: main() against the emulator, key in the env; extra
    keyword arguments replace fields of the ``Context``. Asserts the key shows in no output."""

    def invoke(*argv: str, key: str | None = SECRET_KEY, **changes: Any) -> Result:
        ctx = Context(
            env={} if key is None else {"KIE_API_KEY": key},
            transport=emulator.transport,
            async_transport=emulator.transport,
            tty=False,
        )
        if changes:
            ctx = replace(ctx, **changes)
        urls = ["--base-url", emulator.base_url, "--upload-base-url", emulator.upload_base_url]
        code = main([*argv, *urls], context=ctx)
        captured = capsys.readouterr()
        assert SECRET_KEY not in captured.out
        assert SECRET_KEY not in captured.err
        return Result(code, captured.out, captured.err)

    return invoke
