"""KIE_LOG=debug|info turns on the library's logging, with bearer tokens redacted."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kie_gpt_image._logging import LOGGER_NAME, configure_from_environment
from kie_gpt_image.emulator import Emulator, Schedule

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "samples" / "person.png"


@pytest.fixture
def restore_loggers() -> Iterator[None]:
    saved = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
        for name in (LOGGER_NAME, "httpx")
    }
    yield
    for name, (level, handlers) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers


@pytest.mark.usefixtures("restore_loggers")
def test_debug_shows_what_the_client_does_and_never_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert configure_from_environment({"KIE_LOG": "debug"}) is not None
    with Emulator(schedule=Schedule.instant()) as emulator, emulator.client() as client:
        result = client.edit([SAMPLE], "make it blue")
        logging.getLogger(LOGGER_NAME).debug("echoed by a server: Bearer %s", "sk-live-123")
    err = capsys.readouterr().err
    assert f"created task {result.task_id}" in err
    assert "HTTP Request: POST" in err  # httpx's own lines at debug
    assert "sk-live-123" not in err
    assert "Bearer [redacted]" in err


@pytest.mark.usefixtures("restore_loggers")
def test_info_leaves_httpx_alone_and_unset_adds_nothing() -> None:
    assert configure_from_environment({}) is None
    handler = configure_from_environment({"KIE_LOG": "INFO"})
    assert handler is not None
    assert logging.getLogger(LOGGER_NAME).level == logging.INFO
    assert handler not in logging.getLogger("httpx").handlers


@pytest.mark.usefixtures("restore_loggers")
def test_an_unknown_value_says_so_and_stays_off(capsys: pytest.CaptureFixture[str]) -> None:
    before = list(logging.getLogger(LOGGER_NAME).handlers)
    assert configure_from_environment({"KIE_LOG": "verbose"}) is None
    assert "KIE_LOG='verbose' is not one of debug, info" in capsys.readouterr().err
    assert logging.getLogger(LOGGER_NAME).handlers == before


def test_the_variable_is_read_when_the_package_is_imported() -> None:
    code = "import logging, kie_gpt_image; logging.getLogger('kie_gpt_image').info('hello from the library')"
    run = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        env={"KIE_LOG": "info", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "kie_gpt_image INFO] hello from the library" in run.stderr
