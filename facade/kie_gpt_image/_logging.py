"""``KIE_LOG=debug|info``: the library's logging without writing any logging configuration.

openai-python users set ``OPENAI_LOG=debug`` to see what the client does; ``KIE_LOG`` does the same here.
It is read once, when ``kie_gpt_image`` is imported, and only adds a stderr handler to the library's own
logger (and, at ``debug``, to httpx's): an application that configures logging itself sees no change when
the variable is unset. Every record that reaches that handler passes a filter that hides bearer tokens,
so a key never lands in a log even if a message from another library carried one.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

__all__ = ["LOGGER_NAME", "RedactingFilter", "configure_from_environment"]

LOGGER_NAME = "kie_gpt_image"
"""The logger every module of the library writes to."""

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\",]+")
_FORMAT = "[%(asctime)s %(name)s %(levelname)s] %(message)s"


class RedactingFilter(logging.Filter):
    """Replaces ``Bearer <token>`` in a record's message with ``Bearer [redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message in place; never drops a record."""
        message = record.getMessage()
        redacted = _BEARER.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_from_environment(environ: Mapping[str, str] = os.environ) -> logging.Handler | None:
    """Turn on logging to stderr when ``KIE_LOG`` is ``debug`` or ``info``; return the handler added.

    An unknown value leaves logging off and says so once on stderr (a typo should not pass silently).
    """
    value = environ.get("KIE_LOG", "").strip().lower()
    if not value:
        return None
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RedactingFilter())
    level = _LEVELS.get(value)
    if level is None:
        handler.setLevel(logging.WARNING)
        warn = logging.getLogger(LOGGER_NAME)
        warn.addHandler(handler)
        warn.warning("KIE_LOG=%r is not one of debug, info: logging stays off", value)
        warn.removeHandler(handler)
        return None
    names = [LOGGER_NAME, "httpx"] if level == logging.DEBUG else [LOGGER_NAME]
    for name in names:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
    return handler
