"""The distribution: one wheel holding both packages and their py.typed markers."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_both_packages_and_markers(tmp_path: Path) -> None:
    subprocess.run(  # noqa: S603 - hatchling is a pinned dev dependency; builds offline
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("kie_gpt_image-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "kie_gpt_image/__init__.py" in names
    assert "kie_gpt_image/py.typed" in names
    assert "kie_api/__init__.py" in names
    assert "kie_api/py.typed" in names
    assert "kie_api/api/default/get_task_details.py" in names
    assert not any(n.startswith(("tests/", "facade/", "generated/", "openapi/")) for n in names)
    # The generator runs only in a checkout (scripts/regenerate): never shipped.
    assert not any(n.startswith(("codegen/", "kie_codegen/")) for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    requires = sorted(
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")
    )
    runtime = [r for r in requires if "extra ==" not in r]
    assert runtime == [
        "anyio>=4.0",
        "attrs>=23.1",
        "filelock>=3.12",
        "httpcore<2,>=1.0.5",
        "httpx<0.29,>=0.27",
        "pyrate-limiter<5,>=4.5.1",
        "sniffio>=1.3",
    ]
    assert "openapi-python-client" not in " ".join(runtime)
