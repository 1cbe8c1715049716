"""What every subcommand takes from its environment (``Context``), and the settings every client of the
command line is built from: the key, the hosts, the poll policy and the wait timeout."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .._client import DEFAULT_BASE_URL, DEFAULT_UPLOAD_BASE_URL
from .._errors import InvalidInputError
from .._policies import PollPolicy

__all__ = ["Context", "base_url", "elapsed", "poll_policy", "read_key", "upload_base_url", "wait_timeout"]


@dataclass
class Context:
    """What the CLI takes from its environment; tests replace parts (transports, clocks, streams).

    Every field has the real default, so ``main()`` from the console script passes none.
    """

    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    """Environment variables (``KIE_API_KEY``, ``KIE_BASE_URL``, ``KIE_UPLOAD_BASE_URL``)."""
    stdout: Any = None
    """Result stream (default ``sys.stdout`` at call time)."""
    stderr: Any = None
    """Human stream (default ``sys.stderr`` at call time)."""
    tty: bool | None = None
    """Force the live status line on or off (default: whether stderr is a terminal)."""
    transport: httpx.BaseTransport | None = None
    """httpx transport for the synchronous client (e.g. an in-process emulator)."""
    async_transport: httpx.AsyncBaseTransport | None = None
    """httpx transport for the batch's ``AsyncClient``."""
    sleep: Callable[[float], None] = time.sleep
    """Sleep of the synchronous client."""
    async_sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    """Sleep of the batch (polling and the rate gate)."""
    clock: Callable[[], float] = time.monotonic
    """Monotonic clock of the clients and the rate gate."""
    wall_clock: Callable[[], float] = time.time
    """Unix time, which callbacks' signed timestamps are checked against (``batch --listen``)."""
    on_batch_event: Callable[[Any], None] | None = None
    """Called with every ``BatchEvent`` (after the display handled it)."""


def read_key(args: argparse.Namespace, ctx: Context) -> str | None:
    """The API key from ``--api-key-file`` or ``KIE_API_KEY`` (``None``: the client reports it missing).

    There is deliberately no ``--api-key`` option: a key on the command line lands in shell history and
    in the process list.
    """
    if args.api_key_file:
        try:
            text = Path(args.api_key_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            # Not the exception text: a decode error quotes file content, and that content is the key.
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise InvalidInputError(
                "--api-key-file", f"cannot read {args.api_key_file!r}: {reason}"
            ) from None
        key = text.strip()
        if not key:
            raise InvalidInputError("--api-key-file", f"{args.api_key_file!r} is empty")
        return key
    return ctx.env.get("KIE_API_KEY")


def poll_policy(args: argparse.Namespace) -> PollPolicy | None:
    interval = getattr(args, "poll_interval", None)
    if interval is None:
        return None
    if interval <= 0:
        raise InvalidInputError("--poll-interval", "must be a positive number of seconds")
    # One interval for every phase; the wait timeout keeps the library's default unless --timeout.
    return PollPolicy(early_interval=interval, middle_interval=interval, late_interval=interval)


def wait_timeout(args: argparse.Namespace) -> float | None:
    timeout: float | None = getattr(args, "timeout", None)
    if timeout is not None and timeout <= 0:
        raise InvalidInputError("--timeout", "must be a positive number of seconds")
    return timeout


def base_url(args: argparse.Namespace, ctx: Context) -> str:
    # KIE_BASE_URL / KIE_UPLOAD_BASE_URL are what `kie-gpt-image emulator` tells a shell to export
    # (emulator/_run.py): pasting its lines must point every later command at the emulator.
    return str(args.base_url or ctx.env.get("KIE_BASE_URL") or DEFAULT_BASE_URL)


def upload_base_url(args: argparse.Namespace, ctx: Context) -> str:
    return str(args.upload_base_url or ctx.env.get("KIE_UPLOAD_BASE_URL") or DEFAULT_UPLOAD_BASE_URL)


def elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"
