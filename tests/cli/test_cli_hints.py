"""What the command line tells a user who is about to go the wrong way (issue 24, item 15)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Run

from kie_gpt_image._cli import Context, ExitCode, main
from kie_gpt_image.emulator import Emulator, Schedule


def _error_line(err: str) -> str:
    (line,) = [line for line in err.splitlines() if "error:" in line]
    return line


def test_a_wait_timeout_suggests_a_wait_that_saves_where_the_edit_would_have(
    run: Run, image: Path, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.schedule = Schedule(waiting=3600.0)
    dest = tmp_path / "my results" / "cat.png"
    result = run(
        "edit", str(image), "-p", "x", "-o", str(dest), "--timeout", "0.05", "--poll-interval", "0.01"
    )
    assert result.code == ExitCode.TIMEOUT
    line = _error_line(result.err)
    task_id = line.split("task ")[1].split()[0]
    assert line.endswith(f"resume with: kie-gpt-image wait {task_id} -o '{dest}'")


def test_an_interrupted_wait_suggests_the_same_output(run: Run, image: Path, emulator: Emulator) -> None:
    emulator.schedule = Schedule(waiting=3600.0)

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    result = run("edit", str(image), "-p", "x", "-o", "out/", "--poll-interval", "0.01", sleep=interrupt)
    assert result.code == ExitCode.INTERRUPTED
    (line,) = [line for line in result.err.splitlines() if "resume with" in line]
    assert line.endswith(" -o out/")


def test_no_wait_json_resume_command_keeps_the_output(run: Run, image: Path) -> None:
    result = run("edit", str(image), "-p", "x", "-o", "out/", "--no-wait", "--json")
    assert result.json()["resume"].endswith(" -o out/")


def test_an_http_callback_url_names_the_flag_that_allows_it(
    run: Run, image: Path, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run("edit", str(image), "-p", "x", "--callback-url", "http://127.0.0.1:9/cb")
    assert result.code == ExitCode.USAGE
    line = _error_line(result.err)
    assert "--allow-http-callback" in line
    assert "allow_http_callback=True" not in line
    assert emulator.call_count("gpt-image-1-5-image-to-image") == 0
    assert main(["edit", "--help"], context=Context(env={})) == 0
    assert "--allow-http-callback" in capsys.readouterr().out
    allowed = run(
        "edit", str(image), "-p", "x", "--callback-url", "http://127.0.0.1:9/cb", "--allow-http-callback"
    )
    assert allowed.code == ExitCode.OK


def test_an_option_of_another_model_says_which_model_takes_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edit", "a.png", "-p", "x", "--resolution", "2K"], context=Context(env={})) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "unrecognized arguments: --resolution 2K" in err
    assert "--resolution is an option of gpt-image-2-image-to-image" in err
    assert "add --model gpt-image-2-image-to-image" in err
    assert main(["generate", "-p", "x", "--resolution", "1K"], context=Context(env={})) == ExitCode.USAGE
    assert "add --model gpt-image-2-text-to-image" in capsys.readouterr().err


def test_emulator_help_lists_only_what_the_emulator_uses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--help"], context=Context(env={})) == 0
    text = capsys.readouterr().out
    assert "--task-cost" in text
    for flag in ("--api-key-file", "--base-url", "--upload-base-url"):
        assert flag not in text
