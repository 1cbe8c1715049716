"""``generated/PROVENANCE.json``: what ``generated/`` was made from, so ``--check`` can say what changed.

It records each input document's sha256 (by file name), the versions of the tools that wrote or
formatted the output (openapi-python-client, ruff, jinja2), the sha256 of every source of the generator
(this package and its templates, openapi-python-client's replaced templates and configuration, the
launcher) and the sha256 of every file written into ``generated/``. No dates and no machine paths: two
runs from the same inputs write the same file.

``--check`` compares the record in the committed tree with a fresh run and with the committed files
themselves: a changed document, a changed template or generator module, another tool version, or a
generated file edited by hand is each named on its own line.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RegenerateError
from .settings import CODEGEN, CONFIG, PROVENANCE_NAME, ROOT, TEMPLATES

__all__ = ["TOOLS", "Provenance", "explain", "outputs_of", "read", "record", "write"]

TOOLS = ("openapi-python-client", "ruff", "jinja2")
"""The distributions whose version shapes the output: the generator, the formatter, the template engine."""

_LAUNCHER = ROOT / "scripts" / "regenerate"


@dataclass(frozen=True)
class Provenance:
    """The contents of ``PROVENANCE.json``."""

    inputs: dict[str, str]
    """``openapi/<file name>`` -> sha256 of each input document."""
    tools: dict[str, str]
    """Distribution name -> version, for ``TOOLS``."""
    sources: dict[str, str]
    """Repository path -> sha256 of each source of the generator (code, templates, configuration)."""
    outputs: dict[str, str]
    """Path under ``generated/`` -> sha256 of each file the run wrote (this file excepted)."""

    @property
    def sources_sha256(self) -> str:
        """One hash of all the generator's sources (paths and contents)."""
        return _digest("".join(f"{path}\0{sha}\n" for path, sha in sorted(self.sources.items())).encode())

    def to_json(self) -> str:
        """The file's text (sorted keys, one entry a line, a final newline)."""
        data: dict[str, Any] = {
            "about": "What generated/ was made from; written by scripts/regenerate, read by its --check.",
            "inputs": self.inputs,
            "tools": self.tools,
            "codegen": {"sha256": self.sources_sha256, "files": self.sources},
            "outputs": self.outputs,
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".ruff_cache" not in p.parts
    )


def _sources() -> dict[str, str]:
    paths = [
        *(p for p in _files(CODEGEN) if p.suffix in (".py", ".jinja")),
        *(p for p in _files(TEMPLATES)),
        CONFIG,
        _LAUNCHER,
    ]
    return {p.relative_to(ROOT).as_posix(): _digest(p.read_bytes()) for p in paths}


def outputs_of(tree: Path) -> dict[str, str]:
    """Path -> sha256 of every file under ``tree`` (a ``generated/``) but ``PROVENANCE.json``."""
    return {
        p.relative_to(tree).as_posix(): _digest(p.read_bytes())
        for p in _files(tree)
        if p.relative_to(tree).as_posix() != PROVENANCE_NAME
    }


def record(spec_dir: Path, tree: Path) -> Provenance:
    """The provenance of ``tree``, just written from the documents in ``spec_dir`` by this generator."""
    return Provenance(
        inputs={f"openapi/{p.name}": _digest(p.read_bytes()) for p in sorted(spec_dir.glob("*.json"))},
        tools={name: importlib.metadata.version(name) for name in TOOLS},
        sources=_sources(),
        outputs=outputs_of(tree),
    )


def write(provenance: Provenance, tree: Path) -> None:
    """Write ``tree/PROVENANCE.json``."""
    (tree / PROVENANCE_NAME).write_text(provenance.to_json(), encoding="utf-8")


def read(tree: Path) -> Provenance | None:
    """The provenance recorded in ``tree``, or None when it has none."""
    path = tree / PROVENANCE_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Provenance(
            inputs=dict(data["inputs"]),
            tools=dict(data["tools"]),
            sources=dict(data["codegen"]["files"]),
            outputs=dict(data["outputs"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise RegenerateError(
            f"generated/{PROVENANCE_NAME} is not readable ({exc!r}): run scripts/regenerate"
        ) from exc


def _changes(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, str]]:
    """(path, ``new``/``removed``/``changed``) for each difference between two path -> hash maps."""
    out = [(p, "new") for p in sorted(after.keys() - before.keys())]
    out += [(p, "removed") for p in sorted(before.keys() - after.keys())]
    out += [(p, "changed") for p in sorted(before.keys() & after.keys()) if before[p] != after[p]]
    return sorted(out)


def _is_template(path: str) -> bool:
    return (
        path.endswith(".jinja") or path.startswith("scripts/templates/") or path == "scripts/" + CONFIG.name
    )


def explain(recorded: Provenance | None, fresh: Provenance, committed: dict[str, str]) -> list[str]:
    """Why the committed ``generated/`` may differ from a fresh run, one line per cause.

    ``recorded`` is the committed tree's provenance, ``fresh`` the provenance of a run now, ``committed``
    the committed tree's files (``outputs_of``). Empty when nothing changed since the last regenerate.
    """
    if recorded is None:
        return [f"generated/{PROVENANCE_NAME} is missing: nothing records what generated/ was made from"]
    lines = []
    for path, how in _changes(recorded.inputs, fresh.inputs):
        verb = {"new": "is new", "removed": "was removed", "changed": "changed"}[how]
        lines.append(f"{path} {verb} since the last regenerate")
    for name in sorted(recorded.tools.keys() | fresh.tools.keys()):
        was, now = recorded.tools.get(name, "absent"), fresh.tools.get(name, "absent")
        if was != now:
            lines.append(f"{name} is {now}, the last regenerate used {was}")
    changed = _changes(recorded.sources, fresh.sources)
    templates = [f"{path} ({how})" for path, how in changed if _is_template(path)]
    code = [f"{path} ({how})" for path, how in changed if not _is_template(path)]
    if templates:
        lines.append("the templates changed since the last regenerate: " + ", ".join(templates))
    if code:
        lines.append("the generator's code changed since the last regenerate: " + ", ".join(code))
    for path, how in _changes(recorded.outputs, committed):
        verb = {"new": "was added", "removed": "was deleted", "changed": "was edited"}[how]
        lines.append(f"generated/{path} {verb} by hand (not what the last regenerate wrote)")
    return lines
