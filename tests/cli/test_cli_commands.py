"""Each subcommand as the user sees it: stdout, stderr, --json, exit codes, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import SECRET_KEY, Run

import kie_gpt_image
from kie_gpt_image._cli import ExitCode, main
from kie_gpt_image.emulator import Emulator, Fault, Outcome, Schedule


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("kie-gpt-image: error:")]


def test_edit_saves_results_and_prints_their_paths(run: Run, image: Path, tmp_path: Path) -> None:
    result = run("edit", str(image), "-p", "make it blue", "-o", str(tmp_path / "out"))
    assert result.code == 0
    (path,) = result.out.splitlines()
    assert Path(path).parent == tmp_path / "out"
    assert Path(path).read_bytes().startswith(b"\x89PNG")
    assert "created" in result.err
    assert "success (4 credits)" in result.err


def test_edit_json_lists_task_urls_and_files(run: Run, image: Path, tmp_path: Path) -> None:
    result = run("edit", str(image), "-p", "x", "--aspect-ratio", "1:1", "--quality", "high", "--json")
    assert result.code == 0
    data = result.json()
    assert data["state"] == "success"
    assert data["task_id"].startswith("task_")
    assert len(data["result_urls"]) == 1
    assert data["files"] == []
    assert data["credits_consumed"] == 4


def test_edit_sends_the_chosen_options(run: Run, image: Path, emulator: Emulator) -> None:
    result = run("edit", str(image), "-p", "x", "--aspect-ratio", "2:3", "--quality", "high", "--no-wait")
    task_id = result.out.strip()
    record = emulator.task_record(task_id)
    assert record is not None
    assert '"aspect_ratio":"2:3"' in record["param"]
    assert '"quality":"high"' in record["param"]


def test_no_wait_then_status_then_wait(run: Run, image: Path, tmp_path: Path) -> None:
    created = run("edit", str(image), "-p", "x", "--no-wait", "--json")
    assert created.code == 0
    task_id = created.json()["task_id"]
    assert created.json()["resume"] == f"kie-gpt-image wait {task_id}"

    status = run("status", task_id, "--json")
    assert status.code == 0
    assert status.json()["state"] == "success"
    assert status.json()["task_id"] == task_id

    human = run("status", task_id)
    assert human.out.splitlines()[0] == f"{task_id}  success"

    waited = run("wait", task_id, "-o", str(tmp_path / "w"))
    assert waited.code == 0
    assert Path(waited.out.strip()).exists()


def test_upload_prints_url_and_json(run: Run, image: Path) -> None:
    human = run("upload", str(image))
    assert human.code == 0
    assert human.out.strip().startswith("https://files.kie-emulator.test/")
    data = run("upload", str(image), "--json").json()
    assert data["mime_type"] == "image/png"
    assert data["size"] == image.stat().st_size


def test_credits_human_and_json(run: Run, emulator: Emulator) -> None:
    assert run("credits").out.strip() == str(emulator.credits)
    assert run("credits", "--json").json() == {"credits": emulator.credits}


def test_common_options_work_before_the_subcommand(run: Run) -> None:
    result = run("--json", "credits")
    assert result.code == 0
    assert "credits" in result.json()


def test_help_documents_every_exit_code_and_the_allowed_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edit", "--help"]) == 0
    text = capsys.readouterr().out
    for code in ExitCode:
        assert f"  {code.value:<4} {code.meaning}" in text
    spec = kie_gpt_image.MODELS[kie_gpt_image.DEFAULT_EDIT_MODEL]
    for choice in (*(spec.field("aspect_ratio").enum or ()), *(spec.field("quality").enum or ())):
        assert choice in text
    # There is no option that would put the key into shell history.
    assert main(["credits", "--api-key", "k"]) == ExitCode.USAGE


def test_bad_choice_is_a_usage_error_and_nothing_is_sent(run: Run, image: Path, emulator: Emulator) -> None:
    result = run("edit", str(image), "-p", "x", "--aspect-ratio", "4:3")
    assert result.code == ExitCode.USAGE
    assert "invalid choice" in result.err
    assert emulator.exchanges == []


def test_missing_key_is_one_line_naming_both_ways_to_give_it(
    run: Run, image: Path, emulator: Emulator
) -> None:
    result = run("edit", str(image), "-p", "x", key=None)
    assert result.code == ExitCode.USAGE
    assert result.err.strip().splitlines() == [
        "kie-gpt-image: error: no API key: set KIE_API_KEY or pass --api-key-file PATH"
    ]
    assert emulator.exchanges == []


def test_api_key_file_is_read_and_never_echoed(run: Run, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(SECRET_KEY + "\n")
    assert run("credits", "--api-key-file", str(key_file), key=None).code == 0
    missing = run("credits", "--api-key-file", str(tmp_path / "nope"), key=None)
    assert missing.code == ExitCode.USAGE
    assert len(_error_lines(missing.err)) == 1


def test_bad_input_file_is_a_usage_error_before_any_request(
    run: Run, tmp_path: Path, emulator: Emulator
) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not an image")
    result = run("edit", str(text_file), "-p", "x")
    assert result.code == ExitCode.USAGE
    (line,) = _error_lines(result.err)
    assert "images[0]" in line
    assert emulator.exchanges == []


def test_wrong_key_is_an_api_error_on_one_line_without_the_key(run: Run) -> None:
    result = run("credits", key="wrong-key-123")
    assert result.code == ExitCode.API
    assert result.err.count("\n") == 1
    assert "401" in result.err
    assert "Traceback" not in result.err
    assert "wrong-key-123" not in result.err


def test_json_errors_are_machine_readable(run: Run) -> None:
    result = run("status", "task_missing", "--json")
    assert result.code == ExitCode.API
    error = result.json()["error"]
    assert error["type"] == "NotFoundError"
    assert error["exit_code"] == ExitCode.API
    assert error["task_id"] == "task_missing"


def test_task_failure_exit_code_and_task_id(run: Run, image: Path, emulator: Emulator) -> None:
    emulator.outcome = lambda body: Outcome.fail("422", "Invalid prompt: nope")
    result = run("edit", str(image), "-p", "x")
    assert result.code == ExitCode.TASK_FAILED
    (line,) = _error_lines(result.err)
    assert "Invalid prompt: nope" in line
    task_id = line.split("task ")[1].split()[0]
    assert f"kie-gpt-image status {task_id}" in line


def test_wait_timeout_says_how_to_resume(run: Run, image: Path, emulator: Emulator) -> None:
    emulator.schedule = Schedule(waiting=3600.0)
    result = run("edit", str(image), "-p", "x", "--timeout", "0.05", "--poll-interval", "0.01")
    assert result.code == ExitCode.TIMEOUT
    (line,) = _error_lines(result.err)
    task_id = line.split("task ")[1].split()[0]
    assert line.endswith(f"resume with: kie-gpt-image wait {task_id}")
    assert "client.wait" not in line


def test_submission_outcome_unknown_exit_code(run: Run, image: Path, emulator: Emulator) -> None:
    emulator.faults.on("gpt-image-1-5-image-to-image", 1, Fault.drop_after())
    result = run("edit", str(image), "-p", "x")
    assert result.code == ExitCode.UNKNOWN
    (line,) = _error_lines(result.err)
    assert "outcome is unknown" in line
    assert "check your kie.ai task list" in line
    assert emulator.call_count("gpt-image-1-5-image-to-image") == 1  # never resent


def test_debug_shows_a_traceback_but_not_the_key(run: Run, image: Path, emulator: Emulator) -> None:
    emulator.faults.on("get-account-credits", None, Fault.http_error(502))
    quiet = run("credits", sleep=lambda seconds: None)
    assert "Traceback" not in quiet.err
    assert len(_error_lines(quiet.err)) == 1
    loud = run("credits", "--debug", sleep=lambda seconds: None)
    assert loud.code == ExitCode.API
    assert "Traceback" in loud.err


def test_progress_line_on_a_terminal(run: Run, image: Path, emulator: Emulator) -> None:
    emulator.schedule = Schedule(waiting=0.03, queuing=0.0, generating=0.0)
    result = run("edit", str(image), "-p", "x", "--poll-interval", "0.02", tty=True)
    assert result.code == 0
    assert "\r" in result.err
    assert "waiting" in result.err
    assert "task_gpt-image_" in result.err


def test_url_inputs_are_passed_through_without_upload(run: Run, emulator: Emulator) -> None:
    result = run("edit", "https://example.com/a.png", "-p", "x", "--no-wait")
    assert result.code == 0
    record = emulator.task_record(result.out.strip())
    assert record is not None
    assert "https://example.com/a.png" in record["param"]
    assert emulator.call_count("upload-file-stream") == 0


def test_the_emulator_subcommand_takes_every_option_of_python_m_emulator(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    from kie_gpt_image.emulator._run import add_options

    reference = argparse.ArgumentParser(add_help=False)
    add_options(reference)
    options = {option for action in reference._actions for option in action.option_strings}
    assert {"--webhook-key", "--rate-limit", "--max-running", "--poll-limit", "--durations"} <= options
    assert main(["emulator", "--help"]) == 0
    text = capsys.readouterr().out
    for option in sorted(options):
        assert f"  {option} " in text, option
