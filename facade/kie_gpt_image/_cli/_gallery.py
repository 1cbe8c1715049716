"""The batch gallery: one static HTML page showing each manifest line next to what came of it.

``write_gallery(journal)`` reads the batch's journal (read-only: a running batch is not disturbed, and
no lock is taken) and its manifest (the prompts, models, options and input images, which the journal does
not hold), and writes ``<manifest stem>.gallery.html`` beside the manifest: one table row per manifest
line with its input thumbnails, prompt, model and options, its outputs (images shown; video and audio
playable, by file suffix), its journal state, task id, time and credits, and a failure's error.
``kie-gpt-image report JOURNAL`` rebuilds it.

The page is self-contained and readable offline: inline CSS only, no script at all (its
Content-Security-Policy forbids any, so even a mistake in escaping could not run one), local files linked
by paths relative to the page. Every text is escaped with ``html.escape``: a prompt is text, never markup.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .._errors import InvalidInputError
from ._exitcodes import ExitCode
from ._manifest import FIELDS, load_manifest
from ._output import PROG, Output

__all__ = ["JOURNAL_SUFFIX", "GalleryRow", "cmd_report", "gallery_rows", "render_gallery", "write_gallery"]

JOURNAL_SUFFIX = ".journal.sqlite"
"""What ``batch`` appends to the manifest's name for its journal (so the manifest is found from it)."""

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".avif", ".bmp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".webm", ".mov", ".m4v", ".ogv"})
AUDIO_SUFFIXES = frozenset({".mp3", ".wav", ".ogg", ".oga", ".m4a", ".aac", ".flac", ".opus"})


@dataclass(frozen=True, slots=True)
class GalleryRow:
    """One row of the page: a manifest line and its journal entry (either may be missing)."""

    item_id: str
    line: int | None
    """The manifest line (``None``: a journal entry whose line is no longer in the manifest)."""
    prompt: str | None = None
    model: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    """Absolute local paths or http(s) URLs, as the manifest resolves them."""
    state: str = "not run"
    """The journal state (``done``, ``failed``, ...), or ``not run`` when the journal has no entry."""
    task_id: str | None = None
    outputs: tuple[str, ...] = ()
    """Saved files (absolute paths), else the result URLs (``batch --no-download``)."""
    credits: float | None = None
    error: str | None = None
    exit_code: int | None = None
    updated_at: float | None = None
    """Unix time of the entry's last change."""
    note: str | None = None
    """Why the row may not match the manifest line (an invalid or changed line, a removed one)."""


@dataclass(frozen=True, slots=True)
class _Entry:
    line: int
    fingerprint: str
    state: str
    task_id: str | None
    result_urls: tuple[str, ...]
    result_paths: tuple[str, ...]
    credits: float | None
    error: str | None
    exit_code: int | None
    updated_at: float | None


def _list(value: object) -> tuple[str, ...]:
    if not isinstance(value, str) or not value:
        return ()
    loaded = json.loads(value)
    return tuple(str(v) for v in loaded) if isinstance(loaded, list) else ()


_SELECT = (
    "SELECT item_id, line, fingerprint, state, task_id, result_urls, result_paths, credits, error, {code},"
    " updated_at FROM items ORDER BY line"
)


def _read_journal(path: Path) -> dict[str, _Entry]:
    """The journal's rows, read through a read-only connection (schema 1 or 2; no lock, no write)."""
    if not path.is_file():
        raise InvalidInputError(
            "journal", f"{str(path)!r} does not exist (batch writes MANIFEST{JOURNAL_SUFFIX})"
        )
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise InvalidInputError("journal", f"cannot open {str(path)!r}: {exc}") from None
    try:
        names = {row[1] for row in db.execute("PRAGMA table_info(items)")}
        code = "exit_code" if "exit_code" in names else "NULL"  # schema 1 had no exit code
        rows = db.execute(_SELECT.format(code=code)).fetchall()
    except sqlite3.Error as exc:
        raise InvalidInputError("journal", f"{str(path)!r} is not a batch journal: {exc}") from None
    finally:
        db.close()
    return {
        str(row[0]): _Entry(
            line=int(row[1]),
            fingerprint=str(row[2]),
            state=str(row[3]),
            task_id=row[4],
            result_urls=_list(row[5]),
            result_paths=_list(row[6]),
            credits=row[7],
            error=row[8],
            exit_code=row[9],
            updated_at=row[10],
        )
        for row in rows
    }


def default_manifest(journal: Path) -> Path:
    """The manifest a journal was written for, by ``batch``'s naming rule (``MANIFEST.journal.sqlite``)."""
    if not journal.name.endswith(JOURNAL_SUFFIX) or journal.name == JOURNAL_SUFFIX:
        raise InvalidInputError(
            "manifest",
            f"cannot tell the manifest of {str(journal)!r} (its name does not end in {JOURNAL_SUFFIX}): "
            "pass it with --manifest",
        )
    return journal.with_name(journal.name[: -len(JOURNAL_SUFFIX)])


def _raw_line(text: str) -> dict[str, Any]:
    # A line the manifest check rejects (a missing input file, a typo) still gets its row, from what it says.
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def gallery_rows(journal: Path, manifest: Path | None = None) -> list[GalleryRow]:
    """One row per manifest line (in order), then one per journal entry no line matches any more.

    Raises:
        InvalidInputError: the journal or manifest cannot be read.
    """
    entries = _read_journal(journal)
    manifest = manifest if manifest is not None else default_manifest(journal)
    items, problems = load_manifest(manifest)
    by_line = {item.line: item for item in items}
    problem_of = {problem.line: problem.message for problem in problems}
    text = manifest.read_text(encoding="utf-8").splitlines()
    base = manifest.resolve().parent
    rows: list[GalleryRow] = []
    seen: set[str] = set()
    for number in sorted(set(by_line) | {n for n in problem_of if n > 0}):
        item = by_line.get(number)
        note: str | None = None
        prompt: str | None
        model: str | None
        if item is not None:
            item_id, prompt, model = item.id, item.prompt, item.model
            options: Mapping[str, Any] = item.options
            inputs = item.images
        else:
            data = _raw_line(text[number - 1])
            item_id = str(data.get("id", number)).strip()
            prompt = data.get("prompt") if isinstance(data.get("prompt"), str) else None
            model = data.get("model") if isinstance(data.get("model"), str) else None
            options = {k: v for k, v in data.items() if k not in FIELDS}
            images = data.get("images")
            inputs = tuple(
                entry if "://" in entry[:16] else str((base / entry).resolve())
                for entry in (images if isinstance(images, list) else [])
                if isinstance(entry, str) and entry
            )
            note = f"this line is not valid now: {problem_of[number]}"
        entry = entries.get(item_id) if item_id not in seen else None
        seen.add(item_id)
        if entry is not None and item is not None and entry.fingerprint != item.fingerprint:
            note = "this line changed after the run: what is shown below came from an earlier version of it"
        rows.append(_row(item_id, number, prompt, model, options, inputs, entry, note))
    for item_id, entry in entries.items():
        if item_id not in seen:
            note = f"not in the manifest any more (it was line {entry.line})"
            rows.append(_row(item_id, None, None, None, {}, (), entry, note))
    return rows


def _row(
    item_id: str,
    line: int | None,
    prompt: str | None,
    model: str | None,
    options: Mapping[str, Any],
    inputs: tuple[str, ...],
    entry: _Entry | None,
    note: str | None,
) -> GalleryRow:
    if entry is None:
        return GalleryRow(item_id, line, prompt, model, options, inputs, note=note)
    return GalleryRow(
        item_id,
        line,
        prompt,
        model,
        options,
        inputs,
        state=entry.state,
        task_id=entry.task_id,
        outputs=entry.result_paths or entry.result_urls,
        credits=entry.credits,
        error=entry.error,
        exit_code=entry.exit_code,
        updated_at=entry.updated_at,
        note=note,
    )


# ------------------------------------------------------------------------------------------ the page


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _link(target: str, page_dir: Path) -> str | None:
    """What an ``href``/``src`` may hold for ``target``: an http(s) URL, or a local file's path relative
    to the page (percent-encoded); ``None`` for anything else (a ``javascript:`` URL is never linked)."""
    if "://" in target[:16]:
        return target if urlsplit(target).scheme.lower() in ("http", "https") else None
    try:
        relative = Path(os.path.relpath(target, page_dir)).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return Path(target).resolve().as_uri()
    return quote(relative)


def _kind(target: str) -> str:
    suffix = Path(urlsplit(target).path if "://" in target[:16] else target).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    return "file"


def _name(target: str) -> str:
    path = urlsplit(target).path if "://" in target[:16] else target
    return Path(path).name or target


def _media(target: str, page_dir: Path, css: str, label: str) -> str:
    href = _link(target, page_dir)
    name = _e(_name(target))
    if href is None:
        return f'<span class="file">{name}</span>'
    src = _e(href)
    kind = _kind(target)
    if kind == "image":
        return (
            f'<a class="{css}" href="{src}" title="{name}">'
            f'<img src="{src}" alt="{_e(label)}: {name}" loading="lazy"></a>'
        )
    if kind == "video":
        return f'<video class="{css}" controls preload="metadata" src="{src}" title="{name}"></video>'
    if kind == "audio":
        return f'<audio controls preload="metadata" src="{src}" title="{name}"></audio>'
    return f'<a class="file" href="{src}">{name}</a>'


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def _render_row(row: GalleryRow, page_dir: Path) -> str:
    inputs = "".join(_media(i, page_dir, "thumb", f"input {n}") for n, i in enumerate(row.inputs, 1))
    outputs = "".join(_media(o, page_dir, "output", f"output {n}") for n, o in enumerate(row.outputs, 1))
    options = "".join(f"<dt>{_e(k)}</dt><dd>{_e(_value(v))}</dd>" for k, v in sorted(row.options.items()))
    state = _e(row.state.replace(" ", "-"))  # as a class name
    facts = [f'<span class="state {state}">{_e(row.state)}</span>']
    if row.exit_code:
        facts.append(f'<span class="code">exit code {_e(row.exit_code)}</span>')
    if row.task_id:
        facts.append(f'<code class="task">{_e(row.task_id)}</code>')
    if row.updated_at is not None:
        facts.append(f"<time>{_e(_when(row.updated_at))}</time>")
    if row.credits is not None:
        facts.append(f'<span class="credits">{_e(f"{row.credits:g}")} credits</span>')
    line = f"line {row.line}" if row.line is not None else "removed"
    return (
        f'<tr class="item {state}" id="item-{_e(row.item_id)}">'
        f'<th scope="row"><span class="id">{_e(row.item_id)}</span><span class="line">{_e(line)}</span></th>'
        f'<td class="inputs">{inputs or "<span class=none>none</span>"}</td>'
        f'<td class="request"><p class="prompt">{_e(row.prompt or "")}</p>'
        + (f'<p class="model">{_e(row.model)}</p>' if row.model else "")
        + (f"<dl>{options}</dl>" if options else "")
        + (f'<p class="note">{_e(row.note)}</p>' if row.note else "")
        + "</td>"
        f'<td class="outputs">{outputs}'
        + (f'<p class="error">{_e(row.error)}</p>' if row.error else "")
        + f'</td><td class="facts">{"".join(facts)}</td></tr>'
    )


_CSS = """
:root { color-scheme: light dark; --line: #8884; --muted: #888; --bad: #c62828; --good: #2e7d32; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem; }
h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
.summary { color: var(--muted); margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { border-top: 1px solid var(--line); padding: .6rem .5rem; vertical-align: top; text-align: left; }
thead th { font-weight: 600; color: var(--muted); border-top: 0; }
th[scope=row] .id { display: block; font-weight: 600; overflow-wrap: anywhere; }
th[scope=row] .line, .model, dl, time, .task, .credits, .code, .none { color: var(--muted); font-size: 12px; }
col.item { width: 8%; } col.inputs { width: 18%; } col.request { width: 28%; } col.outputs { width: 30%; }
img { display: block; max-width: 100%; border-radius: 4px; background: #8882; }
.thumb { display: inline-block; margin: 0 .3rem .3rem 0; }
.thumb img { max-height: 110px; max-width: 110px; }
.output { display: inline-block; margin: 0 .4rem .4rem 0; }
.output img, video.output { max-height: 240px; max-width: 100%; }
audio { display: block; max-width: 100%; margin-bottom: .4rem; }
.prompt { margin: 0 0 .4rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.model { margin: 0; font-family: ui-monospace, monospace; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0 .6rem; margin: .3rem 0 0; }
dt, dd { margin: 0; } dd { font-family: ui-monospace, monospace; }
.facts > * { display: block; }
.state { font-weight: 600; text-transform: uppercase; font-size: 12px; }
.state.done { color: var(--good); } .state.failed, .state.error, .state.unknown { color: var(--bad); }
.error { color: var(--bad); white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0 0; }
.note { color: var(--muted); font-style: italic; margin: .3rem 0 0; }
.task { overflow-wrap: anywhere; font-size: 11px; }
"""


def render_gallery(rows: Sequence[GalleryRow], page_dir: Path, title: str) -> str:
    """The page's HTML for ``rows``, with local files linked relative to ``page_dir``."""
    counts = Counter(row.state for row in rows)
    spent = [row.credits for row in rows if row.credits is not None]
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    if spent:
        summary += f"; {sum(spent):g} credits"
    body = "".join(_render_row(row, page_dir) for row in rows)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        # No script may run on this page, whatever a prompt or file name holds.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'; object-src 'none'; "
        "base-uri 'none'; form-action 'none'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<p class="summary">{len(rows)} items: {_e(summary)}. Written {_e(_when(time.time()))} by '
        f"{_e(PROG)} (rebuild: {_e(PROG)} report JOURNAL).</p>"
        '<table><colgroup><col class="item"><col class="inputs"><col class="request">'
        '<col class="outputs"><col class="facts"></colgroup>'
        '<thead><tr><th scope="col">item</th><th scope="col">inputs</th>'
        '<th scope="col">prompt, model and options</th><th scope="col">outputs</th>'
        f'<th scope="col">state</th></tr></thead><tbody>{body}</tbody></table></body></html>\n'
    )


def default_page(manifest: Path) -> Path:
    """``jobs.jsonl`` → ``jobs.gallery.html``, beside it (where the outputs go unless a line says ``out``)."""
    return manifest.with_name(f"{manifest.stem or manifest.name}.gallery.html")


def _build(journal: Path, page: Path | None, manifest: Path | None) -> tuple[Path, list[GalleryRow]]:
    manifest = manifest if manifest is not None else default_manifest(journal)
    rows = gallery_rows(journal, manifest)
    page = page if page is not None else default_page(manifest)
    page_dir = page.resolve().parent
    document = render_gallery(rows, page_dir, f"Batch {manifest.name}")
    page_dir.mkdir(parents=True, exist_ok=True)
    # Written beside the page and renamed over it: a browser reloading it never sees half a page. (Not
    # mkstemp: its file is private, 0600; this one gets the usual permissions, like the saved results.)
    temporary = page_dir / f".{page.name}.{os.getpid()}.tmp"
    try:
        temporary.write_text(document, encoding="utf-8")
        os.replace(temporary, page)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return page, rows


def write_gallery(
    journal_path: str | os.PathLike[str],
    page_path: str | os.PathLike[str] | None = None,
    *,
    manifest_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the gallery page of a batch and return its path.

    Args:
        journal_path: the batch's journal (read-only; a batch may be running on it).
        page_path: where to write the page (default: ``<manifest stem>.gallery.html`` beside the manifest).
        manifest_path: the batch's manifest (default: the journal's name without ``.journal.sqlite``).

    Raises:
        InvalidInputError: the journal or manifest cannot be read, or the manifest cannot be told.
        OSError: the page cannot be written.
    """
    page, _ = _build(
        Path(journal_path),
        Path(page_path) if page_path is not None else None,
        Path(manifest_path) if manifest_path is not None else None,
    )
    return page


def cmd_report(args: argparse.Namespace, ctx: object, out: Output) -> int:
    """``report JOURNAL``: rebuild a batch's gallery page from its journal and manifest."""
    page, rows = _build(
        Path(args.journal),
        Path(args.output) if args.output else None,
        Path(args.manifest) if args.manifest else None,
    )
    out.line(str(page))
    out.json({"page": str(page), "items": len(rows), "states": dict(Counter(row.state for row in rows))})
    return ExitCode.OK
