"""The command line's exit codes, and the one table that maps an exception to its code.

Every subcommand (``edit``, ``wait``, ``status``, ``upload``, ``credits``, ``batch``) ends through
``exit_code_for``, and a batch journals each item's code from the same function, so an error means the
same number whichever command met it. The table names every ``KieError`` class explicitly (a test walks
``KieError.__subclasses__()`` and fails on a class without an entry, as httpx's test of
``HTTPCORE_EXC_MAP`` does); at run time a class missing from it still gets its nearest ancestor's code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum

from .._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BadSignatureError,
    BadTimestampError,
    BudgetStoreError,
    ClientClosedError,
    DestinationError,
    DownloadError,
    FeatureDisabledError,
    FutureTimestampError,
    GenerationFailedError,
    InsufficientCreditsError,
    InvalidInputError,
    KieError,
    MaintenanceError,
    MalformedCallbackError,
    MissingApiKeyError,
    MissingHeaderError,
    NotFoundError,
    RateLimitError,
    ReplayedCallbackError,
    ReplyTooLargeError,
    RequestTimeoutError,
    ResultTooLargeError,
    ServerError,
    StaleTimestampError,
    SubmissionOutcomeUnknownError,
    TaskFailedError,
    TransportError,
    UnexpectedResponseError,
    UnprocessableRequestError,
    UpstreamTimeoutError,
    UsageCapExceededError,
    WaitTimeoutError,
    WebhookVerificationError,
)
from .._spend import NotStartedError

__all__ = [
    "EXIT_CODES",
    "ExitCode",
    "IllegalTransitionError",
    "JournalBusyError",
    "ResultsNotSavedError",
    "StoreUnavailableError",
    "exit_code_for",
    "exit_code_of",
    "exit_codes_epilog",
    "worst",
]


class ExitCode(IntEnum):
    """The process exit codes; ``exit_codes_epilog`` renders this table into ``--help``."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    API = 3
    TASK_FAILED = 4
    TIMEOUT = 5
    UNKNOWN = 6
    SAVE_FAILED = 7
    BUDGET = 8
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        """One line for the ``--help`` epilog and the README's table."""
        return _MEANINGS[self]


_MEANINGS: Mapping[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.INTERNAL: "unexpected error (a bug, or a local file problem); rerun with --debug",
    ExitCode.USAGE: "bad command line, input, key or manifest; nothing was sent or spent for it",
    ExitCode.API: "kie.ai answered with an error, or the network failed (no task was lost)",
    ExitCode.TASK_FAILED: "the task ended in state 'fail'",
    ExitCode.TIMEOUT: "the wait timed out; the task goes on at kie.ai (resume with 'wait TASK_ID')",
    ExitCode.UNKNOWN: "createTask was sent but its outcome is unknown (a task may exist and be paid)",
    ExitCode.SAVE_FAILED: "the task succeeded and was paid, but saving its results failed (id, URLs printed)",
    ExitCode.BUDGET: "the credit budget (--max-credits) or the balance left items unstarted (still pending)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C); the journal/task id says how to resume",
}

# For a batch, the exit code is the worst outcome among its items. Unknown submissions rank above every
# item outcome (they need a human: a task may be paid twice), then bad input (a line to fix), then errors
# that left items undone, then task failures, then timeouts and unsaved results (a re-run picks those up).
_SEVERITY: tuple[ExitCode, ...] = (
    ExitCode.OK,
    ExitCode.SAVE_FAILED,
    ExitCode.BUDGET,
    ExitCode.TIMEOUT,
    ExitCode.TASK_FAILED,
    ExitCode.API,
    ExitCode.USAGE,
    ExitCode.UNKNOWN,
    ExitCode.INTERNAL,
    ExitCode.INTERRUPTED,
)


def worst(*codes: ExitCode) -> ExitCode:
    """The most severe of ``codes`` (``OK`` when none)."""
    return max(codes, key=_SEVERITY.index, default=ExitCode.OK)


def exit_codes_epilog() -> str:
    """The exit-code table as ``--help`` text."""
    lines = ["exit codes:"]
    lines += [f"  {code.value:<4} {code.meaning}" for code in ExitCode]
    return "\n".join(lines)


class JournalBusyError(InvalidInputError):
    """Another batch run holds the journal: two runners would submit the same items twice."""


class StoreUnavailableError(InvalidInputError):
    """A local store the run needs cannot be opened or written before anything is sent: the journal
    (a read-only or missing folder) or the ``--rate-store`` (an unreachable Redis, a SQLite file in a
    read-only folder). ``field`` names the flag (``--journal``, ``--rate-store``)."""


class ResultsNotSavedError(KieError):
    """A task succeeded (and was paid for) but its results could not be saved.

    Raised by the command line around whatever the save met (a ``DownloadError``, a full disk), so that
    ``edit``, ``wait`` and ``batch`` report it with one exit code; the cause is ``__cause__``.
    """

    resumable = True

    def __init__(self, task_id: str, reason: str, urls: Sequence[str] = ()) -> None:
        super().__init__(
            f"task {task_id} succeeded but its results could not be saved: {reason}", task_id=task_id
        )
        self.reason = reason
        """What went wrong, in one line."""
        self.urls = tuple(urls)
        """The result URLs (valid for a while: the results can still be fetched from them)."""

    @classmethod
    def from_exception(
        cls, task_id: str, exc: BaseException, urls: Sequence[str] = ()
    ) -> ResultsNotSavedError:
        """The error for ``exc`` met while saving ``task_id``'s results (``exc`` becomes its cause).

        Args:
            task_id: The task whose results were being saved.
            exc: What the save met (a ``KieError`` from the download, an ``OSError`` from the disk).
            urls: The task's result URLs.

        Returns:
            The error, with a one-line ``reason``.
        """
        if isinstance(exc, OSError) and exc.strerror:
            reason = f"cannot write {exc.filename!r}: {exc.strerror}"
        else:
            reason = " ".join((exc.message if isinstance(exc, KieError) else str(exc)).split())
        error = cls(task_id, reason, urls)
        error.__cause__ = exc
        return error


class IllegalTransitionError(KieError):
    """A batch item was asked to move between two journal states the transition table forbids.

    Always a bug in the runner (the journal is left as it was): it ends the run with exit code 1.
    """

    resumable = False


# The one table. Grouped by code; every KieError class the package defines appears exactly once.
_BY_CODE: Mapping[ExitCode, tuple[type[BaseException], ...]] = {
    ExitCode.USAGE: (
        InvalidInputError,
        MissingApiKeyError,
        JournalBusyError,
        StoreUnavailableError,
        BudgetStoreError,
    ),
    ExitCode.API: (
        KieError,  # the root: an error with no more precise class is one from kie.ai or the network
        TransportError,
        RequestTimeoutError,
        UnexpectedResponseError,
        APIError,
        AuthenticationError,
        InsufficientCreditsError,
        UsageCapExceededError,
        NotFoundError,
        UnprocessableRequestError,
        RateLimitError,
        MaintenanceError,
        ServerError,
        GenerationFailedError,
        FeatureDisabledError,
        BadRequestError,
        UpstreamTimeoutError,
        ReplyTooLargeError,
    ),
    ExitCode.TASK_FAILED: (TaskFailedError,),
    ExitCode.TIMEOUT: (WaitTimeoutError,),
    ExitCode.UNKNOWN: (SubmissionOutcomeUnknownError,),
    ExitCode.BUDGET: (NotStartedError,),
    # A download only happens for a task that succeeded, so it was paid for.
    ExitCode.SAVE_FAILED: (ResultsNotSavedError, DownloadError, ResultTooLargeError, DestinationError),
    ExitCode.INTERNAL: (
        Exception,  # a bug, or a local problem (OSError) outside any save
        IllegalTransitionError,
        ClientClosedError,  # the command line closes its client only when it is done: a bug
        # The command line verifies no callbacks: one of these reaching it is a bug.
        WebhookVerificationError,
        MissingHeaderError,
        BadTimestampError,
        StaleTimestampError,
        FutureTimestampError,
        BadSignatureError,
        MalformedCallbackError,
        ReplayedCallbackError,
    ),
    ExitCode.INTERRUPTED: (KeyboardInterrupt,),
}

EXIT_CODES: Mapping[type[BaseException], ExitCode] = {
    cls: code for code, classes in _BY_CODE.items() for cls in classes
}
"""Exception class → exit code, for every ``KieError`` class (and ``Exception``, ``KeyboardInterrupt``)."""


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code ``exc`` ends a command (or a batch item) with (see ``exit_code_of``)."""
    return exit_code_of(type(exc))


def exit_code_of(cls: type[BaseException]) -> ExitCode:
    """``cls``'s entry in ``EXIT_CODES``, else its nearest ancestor's (``INTERNAL`` outside the table)."""
    for ancestor in cls.__mro__:
        code = EXIT_CODES.get(ancestor)
        if code is not None:
            return code
    return ExitCode.INTERNAL
