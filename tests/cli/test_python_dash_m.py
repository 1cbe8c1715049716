"""``python -m kie_gpt_image`` runs the command line (issue 27, item 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cli_support import SECRET_KEY, png_bytes

import kie_gpt_image
from kie_gpt_image.emulator import Emulator, Schedule


def _python_m(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # The interpreter running the tests, the package's own module: nothing from outside the test.
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "kie_gpt_image", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def test_python_dash_m_edits_against_a_loopback_emulator(tmp_path: Path) -> None:
    (tmp_path / "in.png").write_bytes(png_bytes())
    with Emulator(api_key=SECRET_KEY, schedule=Schedule.instant()).serve(port=0) as server:
        env = {**os.environ, "KIE_API_KEY": SECRET_KEY, "KIE_BASE_URL": server.base_url}
        env["KIE_UPLOAD_BASE_URL"] = server.upload_base_url
        done = _python_m(
            "edit", str(tmp_path / "in.png"), "-p", "x", "-o", str(tmp_path / "out.png"), env=env
        )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.png").read_bytes().startswith(b"\x89PNG")
    assert "success" in done.stderr


def test_python_dash_m_version_and_usage_errors() -> None:
    version = _python_m("--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"kie-gpt-image {kie_gpt_image.__version__}")
    usage = _python_m("wait")
    assert usage.returncode == 2
    assert "TASK_ID" in usage.stderr
