"""One exception → exit-code table for every subcommand and every batch item, documented once."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_support import Run, write_manifest

from kie_gpt_image import (
    AsyncClient,
    Client,
    InsufficientCreditsError,
    InvalidInputError,
    KieError,
    SubmissionOutcomeUnknownError,
    TaskFailedError,
    TransportError,
    WaitTimeoutError,
)
from kie_gpt_image._cli import ExitCode, main
from kie_gpt_image._cli._batch import BatchEvent
from kie_gpt_image._cli._exitcodes import EXIT_CODES, exit_code_for
from kie_gpt_image.emulator import Emulator, Fault

ROOT = Path(__file__).resolve().parents[2]
CREATE = "gpt-image-1-5-image-to-image"


def _subclasses(cls: type[BaseException]) -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def test_every_kie_error_class_has_its_own_exit_code() -> None:
    # The package's classes (the library's and the CLI's), not ones a test may define for itself.
    classes = {KieError} | {
        cls for cls in _subclasses(KieError) if cls.__module__.startswith("kie_gpt_image")
    }
    assert len(classes) > 30
    missing = sorted(cls.__qualname__ for cls in classes if cls not in EXIT_CODES)
    assert missing == [], f"add these to _cli/_exitcodes.py's table: {missing}"


# Each exception is raised where each command first talks to kie.ai; the user must see the same code.
ERRORS: list[tuple[Callable[[], KieError], ExitCode]] = [
    (lambda: InvalidInputError("images[0]", "not a PNG, JPEG or WebP image"), ExitCode.USAGE),
    (lambda: InsufficientCreditsError("not enough credits", code=402, operation="createTask"), ExitCode.API),
    (lambda: TransportError("connection refused", operation="createTask"), ExitCode.API),
    (lambda: TaskFailedError("task_x", "422", "Invalid prompt"), ExitCode.TASK_FAILED),
    (lambda: WaitTimeoutError("task_x", waited=900, last_state="generating"), ExitCode.TIMEOUT),
    (lambda: SubmissionOutcomeUnknownError(None, request_summary="gpt-image"), ExitCode.UNKNOWN),
]

# command → (class and method to make raise, extra arguments)
COMMANDS: dict[str, tuple[type[Any], str, tuple[str, ...]]] = {
    "edit": (Client, "create_task", ("-p", "x")),
    "wait": (Client, "wait", ("task_x",)),
    "status": (Client, "get_task", ("task_x",)),
    "upload": (Client, "upload", ()),
    "credits": (Client, "credits", ()),
    "batch (createTask)": (AsyncClient, "create_task", ()),
    "batch (wait)": (AsyncClient, "wait", ()),
}


@pytest.mark.parametrize(
    ("make_error", "expected"), ERRORS, ids=[f"{code.name}-{i}" for i, (_, code) in enumerate(ERRORS)]
)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_same_error_exits_with_the_same_code_in_every_command(
    run: Run,
    image: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    make_error: Callable[[], KieError],
    expected: ExitCode,
) -> None:
    cls, method, extra = COMMANDS[command]

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise make_error()

    async def afail(*args: Any, **kwargs: Any) -> Any:
        raise make_error()

    monkeypatch.setattr(cls, method, afail if cls is AsyncClient else fail)
    name = command.split()[0]
    if name == "batch":
        manifest = write_manifest(tmp_path, [{"images": ["in.png"], "prompt": "x"}])
        result = run("batch", str(manifest), "--no-download", "--json")
        (item,) = result.json()["items"]
        assert item["exit_code"] == expected
        with sqlite3.connect(tmp_path / "jobs.jsonl.journal.sqlite") as db:
            assert db.execute("SELECT exit_code FROM items").fetchall() == [(int(expected),)]
        db.close()
    else:
        files = (str(image),) if name in ("edit", "upload") else ()
        result = run(name, *files, *extra, "--json")
        assert result.json()["error"]["exit_code"] == expected
    assert result.code == expected, result.err


def test_a_bad_input_found_by_a_batch_item_exits_2_as_in_edit(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    manifest = write_manifest(tmp_path, [{"images": ["in.png"], "prompt": "x"}])

    def replace_the_image(event: BatchEvent) -> None:
        # The file passed the manifest check, then changes before its upload (the library checks again).
        if event.state == "uploading":
            image.write_bytes(b"not an image any more")

    result = run("batch", str(manifest), "--no-download", "--json", on_batch_event=replace_the_image)
    assert result.json()["items"][0]["outcome"] == "error"
    assert "not a supported image" in result.json()["items"][0]["error"]
    assert result.code == ExitCode.USAGE, result.err  # schema 1 journaled the class name and exited 3
    edit = run("edit", str(image), "-p", "x")
    assert edit.code == ExitCode.USAGE
    assert emulator.call_count(CREATE) == 0


def test_a_batch_item_whose_results_cannot_be_saved_exits_7_and_is_saved_by_the_rerun(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator
) -> None:
    emulator.faults.on("files", None, Fault.http_error(500))
    manifest = write_manifest(tmp_path, [{"images": ["in.png"], "prompt": "x", "out": "out"}])
    first = run("batch", str(manifest), "--json", sleep=lambda _: None)
    assert first.code == ExitCode.SAVE_FAILED, first.err
    (item,) = first.json()["items"]
    assert (item["state"], item["exit_code"]) == ("submitted", ExitCode.SAVE_FAILED)
    assert "succeeded but its results could not be saved" in item["error"]
    emulator.faults.clear()
    second = run("batch", str(manifest), "--json")
    assert second.code == ExitCode.OK, second.err
    assert second.json()["items"][0]["files"]
    assert emulator.call_count(CREATE) == 1


def test_an_unexpected_error_exits_1(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(Client, "credits", boom)
    result = run("credits")
    assert result.code == ExitCode.INTERNAL
    assert "rerun with --debug" in result.err
    assert exit_code_for(KeyboardInterrupt()) is ExitCode.INTERRUPTED


def _readme_table() -> list[tuple[int, str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Command line and batch", 1)[1].split("\n## ", 1)[0]
    return [(int(code), meaning) for code, meaning in re.findall(r"^\| (\d+) +\| (.+?) +\|$", section, re.M)]


def test_help_and_readme_document_the_same_single_table(capsys: pytest.CaptureFixture[str]) -> None:
    expected = [(code.value, code.meaning) for code in ExitCode]
    assert (
        7,
        "the task succeeded and was paid, but saving its results failed (id, URLs printed)",
    ) in expected
    assert _readme_table() == expected
    for argv in (
        ["--help"],
        *([name, "--help"] for name in ("edit", "wait", "status", "upload", "credits", "batch", "emulator")),
    ):
        assert main(argv) == 0
        text = capsys.readouterr().out
        table = re.findall(r"^  (\d+) +(.+)$", text.split("exit codes:", 1)[1], re.M)
        assert [(int(code), meaning) for code, meaning in table] == expected, argv
