"""The whole run: documents -> merge -> contract view and normalised document -> openapi-python-client
-> the modules written here -> formatted, headed ``kie_api`` in an output folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .catalog import model_catalog
from .documents import apply_document_patches, load_documents
from .emit import catalog_module, methods_module, spec_constants_module
from .errors import RegenerateError
from .merge import contract_view, dump, merge
from .normalise import apply_patches
from .patches import DOCUMENT_PATCHES, PATCHES
from .provenance import record, write
from .settings import CONFIG, HEADER, MERGED_NAME, NORMALISED_NAME, PACKAGE, SPEC_DIR, TEMPLATES

__all__ = ["build", "generate_into", "tool"]


def tool(name: str) -> str:
    """Find a pinned tool next to this interpreter first (the project venv), then on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise RegenerateError(f"{name} not found: run the README's set-up command first")
    return found


def build(
    spec_dir: Path = SPEC_DIR, report: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(generator form, contract view, normalised) of the documents in ``spec_dir``; the documents set
    aside are named in ``report``."""
    merged = merge(apply_document_patches(load_documents(spec_dir), DOCUMENT_PATCHES, report))
    return merged, contract_view(merged), apply_patches(merged, PATCHES)


def generate_into(out_dir: Path, spec_dir: Path = SPEC_DIR) -> None:
    """Write ``openapi.merged.json``, ``openapi.normalised.json``, ``kie_api/`` and ``PROVENANCE.json``
    into ``out_dir``."""
    report: list[str] = []
    merged, contract, normalised = build(spec_dir, report)
    for line in report:
        print(line)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MERGED_NAME).write_text(dump(contract), encoding="utf-8")
    normalised_path = out_dir / NORMALISED_NAME
    normalised_path.write_text(dump(normalised), encoding="utf-8")

    env = dict(os.environ)
    # The post hooks call `ruff`: make sure it is the pinned one from this environment.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("RUFF_CACHE_DIR", None)
    with tempfile.TemporaryDirectory(prefix="kie-gen-") as work:
        package_dir = Path(work) / PACKAGE
        command = [
            tool("openapi-python-client"),
            "generate",
            "--path",
            str(normalised_path),
            "--config",
            str(CONFIG),
            "--custom-template-path",
            str(TEMPLATES),
            "--output-path",
            str(package_dir),
            "--meta",
            "none",
            "--fail-on-warning",
        ]
        result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not package_dir.is_dir():
            raise RegenerateError(
                "openapi-python-client failed:\n" + result.stdout[-4000:] + result.stderr[-4000:]
            )
        catalog = model_catalog(merged, package_dir)
        (package_dir / "models_catalog.py").write_text(catalog_module(catalog), encoding="utf-8")
        (package_dir / "spec_constants.py").write_text(spec_constants_module(catalog), encoding="utf-8")
        (package_dir / "model_methods.py").write_text(methods_module(catalog), encoding="utf-8")
        # The same formatter and settings as the generator's post hooks (scripts/openapi-python-client.yaml).
        subprocess.run(
            [
                tool("ruff"),
                "format",
                "--isolated",
                "--line-length",
                "100",
                "--quiet",
                "models_catalog.py",
                "spec_constants.py",
                "model_methods.py",
            ],
            cwd=package_dir,
            env=env,
            check=True,
        )
        _add_headers(package_dir)
        shutil.rmtree(package_dir / ".ruff_cache", ignore_errors=True)
        shutil.copytree(package_dir, out_dir / PACKAGE)
    write(record(spec_dir, out_dir), out_dir)


def _add_headers(package_dir: Path) -> None:
    # PEP 561 marker: the generator writes none with --meta none, and mypy --strict checks kie_api.
    (package_dir / "py.typed").write_text("", encoding="utf-8")
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and (path.suffix == ".py" or path.name == "py.typed"):
            text = path.read_text(encoding="utf-8")
            path.write_text(f"# {HEADER}\n{text}", encoding="utf-8")
