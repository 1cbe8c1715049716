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


def _announcement(process: subprocess.Popen[str]) -> list[str]:
    """The emulator's lines up to its last export (an early exit ends them too: readline gives '')."""
    assert process.stdout is not None
    lines: list[str] = []
    while line := process.stdout.readline():
        lines.append(line.rstrip("\n"))
        if line.startswith("export KIE_UPLOAD_BASE_URL="):
            break
    return lines


def _exports(lines: list[str]) -> dict[str, str]:
    return dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
@pytest.mark.parametrize(
    ("flag", "from_env", "shown"),
    [
        ("K-from-the-flag", None, "K-from-the-flag"),
        (None, "ENV-webhook-Secret-4d1e", None),  # maybe a real kie.ai key: used, never printed
        ("K-from-the-flag", "ENV-webhook-Secret-4d1e", "K-from-the-flag"),
    ],
)
def test_console_script_emulator_takes_the_emulator_options(
    flag: str | None, from_env: str | None, shown: str | None
) -> None:
    env = _env(**({"KIE_WEBHOOK_HMAC_KEY": from_env} if from_env else {}))
    env.pop("KIE_BASE_URL", None)
    env.pop("KIE_UPLOAD_BASE_URL", None)
    options = ["--rate-limit", "5", "--max-running", "7", "--poll-limit", "3", "--durations", "20", "90"]
    options += ["--seed", "4", "--callback-hosts", "any", "--keep-exchanges", "50", "--credits", "321"]
    if flag:
        options += ["--webhook-key", flag]
    with subprocess.Popen(  # noqa: S603
        [str(SCRIPT), "emulator", "--port", "0", *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            lines = _announcement(process)
            if shown:  # the webhook key's export comes last
                assert process.stdout is not None
                lines.append(process.stdout.readline().rstrip("\n"))
            exports = _exports(lines)
            # Pasting the printed lines points the next commands at the emulator (no --base-url needed).
            credits = _cli("credits", "--json", env={**env, **exports})
            assert credits.returncode == 0, credits.stderr
            assert json.loads(credits.stdout) == {"credits": 321}
            process.send_signal(signal.SIGINT)
            rest, err = process.communicate(timeout=10)
            assert process.returncode == 0, err
        finally:
            if process.poll() is None:
                process.kill()
    text = "\n".join([*lines, rest])
    assert "  limits           5 new tasks per 10 s, 7 running, 3 polls per 1 s" in lines
    assert "  callbacks        any host" in lines
    if shown:
        assert exports["KIE_WEBHOOK_HMAC_KEY"] == shown
        assert f"export KIE_WEBHOOK_HMAC_KEY={shown}" in lines
    else:
        assert "KIE_WEBHOOK_HMAC_KEY" not in exports
        assert "  webhook_hmac_key (from KIE_WEBHOOK_HMAC_KEY, not shown)" in lines
    if from_env:
        assert from_env not in text + err


def test_other_subcommands_and_their_help_do_not_import_the_emulator() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from kie_gpt_image._cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    for argv in (['--help'], ['edit', '--help'], ['batch', '--help'], ['credits']):\n"
        "        main(argv)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('kie_gpt_image.emulator', 'PIL'))))\n"
        "main(['emulator', '--help'])\n"
        "print('kie_gpt_image.emulator' in sys.modules)\n"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "[]"
    assert "--webhook-key WEBHOOK_KEY" in done.stdout
    assert "--durations LOW HIGH" in done.stdout
    assert lines[-1] == "True"
