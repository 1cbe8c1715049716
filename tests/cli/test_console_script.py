"""The installed ``kie-gpt-image`` console script, as a separate process, on real loopback sockets."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import SECRET_KEY, png_bytes, write_manifest

from kie_gpt_image.emulator import Emulator, Fault, Schedule

SCRIPT = Path(sys.executable).with_name("kie-gpt-image")

pytestmark = pytest.mark.skipif(
    not SCRIPT.exists(), reason="console script not installed in this environment"
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KIE_API_KEY"}
    env.update(extra)
    return env


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Arguments are built by the test itself; the executable is this venv's console script.
    return subprocess.run(  # noqa: S603
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_console_script_edit_and_batch_against_a_loopback_emulator(tmp_path: Path) -> None:
    (tmp_path / "in.png").write_bytes(png_bytes())
    emulator = Emulator(api_key=SECRET_KEY, schedule=Schedule(waiting=0.05, queuing=0.0, generating=0.05))
    with emulator.serve(port=0) as server:
        urls = ["--base-url", server.base_url, "--upload-base-url", server.upload_base_url]
        image, out = str(tmp_path / "in.png"), str(tmp_path / "out")
        edit = _cli(
            "edit", image, "-p", "blue", "-o", out, "--json", "--poll-interval", "0.05", *urls,
            env=_env(KIE_API_KEY=SECRET_KEY),
        )  # fmt: skip
        assert edit.returncode == 0, edit.stderr
        data = json.loads(edit.stdout)
        assert Path(data["files"][0]).read_bytes().startswith(b"\x89PNG")

        manifest = write_manifest(tmp_path, [{"images": ["in.png"], "prompt": f"p{i}"} for i in range(3)])
        key_file = tmp_path / "key"
        key_file.write_text(SECRET_KEY)
        batch = _cli(
            "batch",
            str(manifest),
            "--api-key-file",
            str(key_file),
            "--poll-interval",
            "0.05",
            *urls,
            env=_env(),
        )
        assert batch.returncode == 0, batch.stderr
        assert "batch: 3 done" in batch.stderr
        assert len(batch.stdout.splitlines()) == 3

        missing = _cli("credits", *urls, env=_env())
        assert missing.returncode == 2
        assert missing.stderr.count("\n") == 1
    for output in (edit.stdout, edit.stderr, batch.stdout, batch.stderr):
        assert SECRET_KEY not in output


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_console_script_emulator_serves_until_ctrl_c() -> None:
    with subprocess.Popen(  # noqa: S603
        [str(SCRIPT), "emulator", "--port", "0"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(5)]
            assert lines[0].startswith("kie.ai emulator running")
            announced = dict(line.split() for line in lines[1:])
            credits = _cli(
                "credits",
                "--base-url",
                announced["base_url"],
                "--json",
                env=_env(KIE_API_KEY=announced["api_key"]),
            )
            assert credits.returncode == 0, credits.stderr
            assert json.loads(credits.stdout) == {"credits": 1000}
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()


def test_a_prompt_given_as_non_utf8_bytes_exits_2_before_anything_is_sent(tmp_path: Path) -> None:
    (tmp_path / "in.png").write_bytes(png_bytes())
    emulator = Emulator(api_key=SECRET_KEY, schedule=Schedule.instant())
    with emulator.serve(port=0) as server:
        # What a shell passes for -p $'caf\xe9': bytes that are not UTF-8.
        argv = [os.fsencode(SCRIPT), b"edit", os.fsencode(tmp_path / "in.png"), b"-p", b"caf\xe9"]
        argv += [
            b"--base-url",
            server.base_url.encode(),
            b"--upload-base-url",
            server.upload_base_url.encode(),
        ]
        done = subprocess.run(  # noqa: S603
            argv, env=_env(KIE_API_KEY=SECRET_KEY), capture_output=True, text=True, timeout=60, check=False
        )
    assert done.returncode == 2, done.stderr
    assert "--prompt" in done.stderr
    assert "0xe9" in done.stderr
    assert emulator.call_count("upload-file-stream") == 0


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell does for a background job (cmd &)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to a child process")
@pytest.mark.parametrize("sigint_ignored", [False, True])
def test_sigterm_during_a_batch_journals_the_creates_in_flight(tmp_path: Path, sigint_ignored: bool) -> None:
    (tmp_path / "in.png").write_bytes(png_bytes())
    create = "gpt-image-1-5-image-to-image"
    emulator = Emulator(api_key=SECRET_KEY, schedule=Schedule.instant(), rate_limit=100_000, credits=100_000)
    # Every createTask is processed at once but answered 0.5 s later: the SIGTERM finds some in flight.
    emulator.faults.on(create, None, Fault.delay(0.5))
    manifest = write_manifest(tmp_path, [{"images": ["in.png"], "prompt": f"p{i}"} for i in range(40)])
    with emulator.serve(port=0) as server:
        urls = ["--base-url", server.base_url, "--upload-base-url", server.upload_base_url]
        args = [str(SCRIPT), "batch", str(manifest), "--no-download", "--concurrency", "8", *urls]
        with subprocess.Popen(  # noqa: S603
            [*args, "--rate-limit", "100000"],
            env=_env(KIE_API_KEY=SECRET_KEY),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_ignore_sigint if sigint_ignored else None,
        ) as process:
            deadline = time.monotonic() + 30
            while emulator.call_count(create) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            process.send_signal(signal.SIGTERM)  # what kill, systemd and container runtimes send
            _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "interrupted; the journal is consistent" in err
    with sqlite3.connect(tmp_path / "jobs.jsonl.journal.sqlite") as db:
        states = dict(db.execute("SELECT item_id, state FROM items").fetchall())
    created = emulator.call_count(create)
    assert 4 <= created < 40
    # Every createTask that went out has its task id journaled (the ones in flight were let finish).
    assert "submitting" not in states.values()
    assert sum(state in ("submitted", "done") for state in states.values()) == created
