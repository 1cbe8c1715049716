"""The library's warnings: ``KieWarning`` and its subclasses, raised with ``warnings.warn`` so that
``-W error``, pytest's ``filterwarnings`` and ``warnings.simplefilter`` control them as usual."""

from __future__ import annotations

import logging
import os
import sys
import warnings

__all__ = ["CreateRefusedWarning", "KieWarning", "LoopbackCallbackWarning", "warn"]

logger = logging.getLogger("kie_gpt_image")

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


class KieWarning(UserWarning):
    """Base class of every warning the library issues."""


class LoopbackCallbackWarning(KieWarning):
    """A ``callback_url`` on a loopback host (``localhost``, 127.0.0.0/8, ``::1``) was sent to a kie.ai
    that is not itself on loopback: kie.ai cannot reach this machine's loopback, so no callback will
    arrive (poll with ``wait``, or expose the receiver on a public https URL)."""


class CreateRefusedWarning(KieWarning):
    """kie.ai has refused a createTask with code 429 for several seconds (another program on the same
    account, or a limit lower than documented): it is resent when kie.ai's create window reopens, until
    the create step's deadline (``create_timeout``, or ``create_task(timeout=...)``). Nothing is created
    or charged meanwhile; ``max_retries=0`` resends nothing."""


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points ``warnings.warn`` at the first frame outside this package (the
    user's call), however deep the library's own frames are (sync or async)."""
    frame = sys._getframe(2)  # the caller of ``warn``
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn(message: str, category: type[KieWarning]) -> None:
    """Issue ``message`` as a ``category`` warning attributed to the user's call, and log it."""
    logger.warning("%s", message)
    warnings.warn(message, category, stacklevel=_user_stacklevel())
