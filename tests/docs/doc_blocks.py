"""The fenced ``python`` and ``bash`` blocks of README.md and docs/**/*.md, each with how it runs.

A block runs as a reader would paste it unless an HTML comment right above its fence says otherwise::

    <!-- docs-test: MODE: why, in words the reader can check -->

The modes (``tests/docs/test_blocks.py`` runs each):

- ``session`` (the default for python): the page's blocks run in page order in one namespace, in a
  folder holding the images they name, with the environment pointing every client at a loopback emulator
  (the lines ``kie-gpt-image emulator`` prints); top-level ``await`` runs on the page's event loop.
- ``shell`` (the default for bash): the block runs in ``bash -euo pipefail`` from a copy of the repository
  root (the emulator environment set, ``.venv/bin`` first on ``PATH``); the ports 8787-8789 it names are
  replaced by free ones, an emulator it starts finishes tasks at once (``--durations 0 0``), and
  background jobs are stopped at the end.
- ``pytest``: the block defines tests; all such blocks run in one fresh pytest session (the plugin from
  its entry point, strict markers, warnings as errors) and every test of them must pass.
- ``notebook``: the page's notebook cells run in order in one IPython shell (the cell runner of a Jupyter
  kernel: top-level ``await`` on one persistent loop, ``display`` captured).
- ``fastapi``: the page's app blocks form one module, served with starlette's TestClient; the harness
  posts a photo, reads the job back, and posts a signed callback (and a forged one).
- ``real-kie``: the block talks to the real kie.ai; it runs as written with the emulator standing in
  (``KIE_BASE_URL``/``KIE_UPLOAD_BASE_URL`` and the key ``...`` stands for).
- ``install``: ``pip install`` lines from PyPI: each names this distribution and extras it declares.
- ``commands``: the repository's own scripts: ``./scripts/demo`` runs; ``./scripts/check`` is the run
  executing this test, so it is checked to be the executable script that ``.ci/run`` calls.
- ``emulator-exports``: the export lines the emulator prints: compared with what it prints.
- ``site``: the documentation site commands: ``mkdocs serve`` runs on a free port until the page
  answers; ``mkdocs build --strict`` is compared with the command ``scripts/check`` runs.

Pages include README sections (``--8<-- "README.md:NAME"``); an included block is README's and runs
once, with README.md, so a page's own blocks do not rely on names an included block defines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODES = {
    "python": ("session", "pytest", "notebook", "fastapi", "real-kie"),
    "bash": ("shell", "real-kie", "install", "commands", "emulator-exports", "site"),
}
FENCE = re.compile(r"^```(python|bash)\n(.*?)^```$", re.M | re.S)
ANNOTATION = re.compile(r"<!--\s*docs-test:\s*([\w-]+)\s*(?::\s*(.*?))?-->\s*$", re.S)
SNIPPET = re.compile(r'^--8<-- "README\.md:([\w-]+)"$', re.M)


@dataclass(frozen=True)
class Block:
    """One fenced block and how it runs."""

    page: str
    """The page it appears on (``README.md``, ``docs/recipes/notebook.md``)."""
    origin: str
    """Where its text is written: ``README.md:LINE`` for README's and included blocks, else ``page:LINE``."""
    language: str
    mode: str
    why: str
    code: str

    @property
    def included(self) -> bool:
        """Whether the block comes from a README section included in a docs page."""
        return not self.origin.startswith(f"{self.page}:")


def _readme_section(name: str) -> tuple[str, int]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"<!-- --8<-- [start:{name}] -->")
    end = text.index(f"<!-- --8<-- [end:{name}] -->")
    return text[start:end], text.count("\n", 0, start)


def _blocks_of(page: str, text: str, source: str, line_offset: int) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip()
        annotation = ANNOTATION.search(before[before.rfind("<!--") :]) if before.endswith("-->") else None
        language = match.group(1)
        mode = annotation.group(1) if annotation else MODES[language][0]
        why = " ".join((annotation.group(2) or "").split()) if annotation else ""
        if mode not in MODES[language]:
            raise ValueError(
                f"{source}:{line_offset + text.count(chr(10), 0, match.start()) + 1}: "
                f"unknown docs-test mode {mode!r} for a {language} block"
            )
        line = line_offset + text.count("\n", 0, match.start()) + 1
        blocks.append(Block(page, f"{source}:{line}", language, mode, why, match.group(2)))
    return blocks


def page_blocks(path: Path) -> list[Block]:
    """The blocks a reader of ``path`` sees, in order, README sections included."""
    page = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8")
    if page == "README.md":
        return _blocks_of(page, text, page, 0)
    blocks: list[Block] = []
    position = 0
    for include in SNIPPET.finditer(text):
        blocks += _blocks_of(page, text[position : include.start()], page, text.count("\n", 0, position))
        section, offset = _readme_section(include.group(1))
        blocks += _blocks_of(page, section, "README.md", offset)
        position = include.end()
    blocks += _blocks_of(page, text[position:], page, text.count("\n", 0, position))
    return blocks


def pages() -> list[Path]:
    """README.md and every page of docs/, in a fixed order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
