"""What the command line prints: one-line errors, JSON, and the live status line (exit codes: ``_exitcodes``).

Results go to stdout (plain lines, or one JSON document with ``--json``); everything meant for a human
watching (progress, notes, errors) goes to stderr, so ``kie-gpt-image edit ... > paths.txt`` works.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from .._auth import Secret
from .._errors import (
    InvalidInputError,
    KieError,
    MissingApiKeyError,
    SubmissionOutcomeUnknownError,
    TaskFailedError,
)
from ._exitcodes import ExitCode, ResultsNotSavedError

__all__ = ["PROG", "Output", "describe"]

PROG = "kie-gpt-image"


def describe(exc: BaseException, *, wait_options: str = "") -> str:
    """One line saying what went wrong, and for an error about a task, its id and how to go on.

    ``wait_options`` are added to the ``wait`` command it suggests (`` -o DEST`` when the user gave one:
    resuming then saves where the first command would have).
    """
    if isinstance(exc, MissingApiKeyError):
        return "no API key: set KIE_API_KEY or pass --api-key-file PATH"
    if isinstance(exc, KieError):
        # .message, not str(): str() adds the Python resume hint (client.wait); the CLI's is below.
        text = exc.message
    else:
        text = f"{type(exc).__name__}: {exc}"
    task_id = exc.task_id if isinstance(exc, KieError) else None
    if task_id:
        if task_id not in text:
            text += f" (task {task_id})"
        if isinstance(exc, TaskFailedError):
            text += f"; details: {PROG} status {task_id}"
        elif isinstance(exc, ResultsNotSavedError):
            text += f"; save them with: {PROG} wait {task_id} -o DEST"
        elif isinstance(exc, KieError) and exc.resumable:
            text += f"; resume with: {PROG} wait {task_id}{wait_options}"
    elif isinstance(exc, SubmissionOutcomeUnknownError):
        text += "; check your kie.ai task list before submitting again"
    return " ".join(text.split())  # one line, whatever the message held


class Output:
    """Where and how the CLI writes. ``secret`` (the API key) is masked in anything written."""

    def __init__(
        self,
        *,
        json_mode: bool,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        tty: bool | None = None,
        secret: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.json_mode = json_mode
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.tty = tty if tty is not None else _isatty(self.stderr)
        """Whether stderr is a terminal: a live status line there, plain lines otherwise."""
        self.secret = secret
        self.clock = clock
        self.wait_options = ""
        """Options a suggested ``wait`` command repeats (`` -o DEST`` when the command was given one)."""
        self._live = False

    def _mask(self, text: str) -> str:
        # Defence in depth: nothing the library says contains the key, but a server could echo it.
        # The library's one masking rule (whole tokens, real-length keys only: issue 24 item 11).
        return Secret(self.secret).mask(text, "***") if self.secret else text

    def line(self, text: str) -> None:
        """A result line on stdout (human mode only)."""
        if not self.json_mode:
            self._clear_live()
            print(self._mask(text), file=self.stdout, flush=True)

    def json(self, data: Mapping[str, Any]) -> None:
        """The JSON document on stdout (JSON mode only)."""
        if self.json_mode:
            self._clear_live()
            print(self._mask(json.dumps(data, ensure_ascii=False, default=str)), file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        """A line for the human on stderr."""
        self._clear_live()
        print(self._mask(text), file=self.stderr, flush=True)

    def status(self, text: str) -> None:
        """The live status: rewritten in place on a terminal; a plain stderr line otherwise."""
        if self.tty:
            self.stderr.write("\r" + self._mask(text) + "\x1b[K")
            self.stderr.flush()
            self._live = True
        else:
            self.note(text)

    def end_status(self) -> None:
        """Finish the live line, leaving it on screen."""
        if self._live:
            self.stderr.write("\n")
            self.stderr.flush()
            self._live = False

    def _clear_live(self) -> None:
        if self._live:
            self.stderr.write("\r\x1b[K")
            self.stderr.flush()
            self._live = False

    def error(self, exc: BaseException, *, code: ExitCode) -> None:
        """Report ``exc``: one line on stderr, and with ``--json`` an error object on stdout."""
        message = describe(exc, wait_options=self.wait_options)
        self.note(f"{PROG}: error: {message}")
        if self.json_mode:
            error: dict[str, Any] = {"type": type(exc).__name__, "message": message, "exit_code": int(code)}
            if isinstance(exc, KieError) and exc.task_id:
                error["task_id"] = exc.task_id
            if isinstance(exc, InvalidInputError):
                error["field"] = exc.field
            if isinstance(exc, SubmissionOutcomeUnknownError):
                error["request_summary"] = exc.request_summary
            self.json({"error": error})


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
