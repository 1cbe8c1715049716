"""The installed ``kie-gpt-image`` console script, as a separate process, on real loopback sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import SECRET_KEY, png_bytes, write_manifest

from kie_gpt_image.emulator import Emulator, Schedule

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
