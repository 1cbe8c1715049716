"""Usage errors that say what to do: a model option given without the ``--model`` that takes it.

The parser lists, and accepts, only the options of the model ``--model`` chooses (``chosen_models``), so
``edit --resolution 2K`` with the default model is an unrecognized argument; the error then names the
models of that subcommand that do take ``--resolution``.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from typing import NoReturn

from .. import _api

__all__ = ["HintingParser", "model_option_hint"]

_KINDS = {"edit": True, "generate": False}


def model_option_hint(argv: Sequence[str], message: str) -> str:
    """For an ``unrecognized arguments`` ``message``, which models take the unrecognized options.

    Returns:
        One sentence per flag that another model of the subcommand takes (``""`` when none does).
    """
    if not message.startswith("unrecognized arguments:"):
        return ""
    command = next((arg for arg in argv if arg in _KINDS), None)
    if command is None:
        return ""
    given = argv[list(argv).index("--model") + 1] if "--model" in argv[:-1] else None
    default = _api.MODEL if _KINDS[command] else _api.DEFAULT_GENERATE_MODEL
    chosen = given or f"{default} (the default)"
    flags = [word.split("=", 1)[0] for word in message.split(":", 1)[1].split() if word.startswith("--")]
    hints = []
    for flag in flags:
        models = [
            model
            for model, spec in _api.MODELS.items()
            if spec.takes_images == _KINDS[command]
            and any("--" + f.name.replace("_", "-") == flag for f in spec.fields)
        ]
        if models:
            # The ids most like the model in use first: its own siblings are the likeliest meant.
            chosen_id = given or default or ""
            models.sort(key=lambda model: (-difflib.SequenceMatcher(None, model, chosen_id).ratio(), model))
            named = " and ".join(models[:3]) + (f" (and {len(models) - 3} more)" if len(models) > 3 else "")
            hints.append(f"{flag} is an option of {named}, not of {chosen}: add --model {models[0]}")
    return "; ".join(hints)


class HintingParser(argparse.ArgumentParser):
    """The top-level parser: its usage error also says which model takes an unrecognized option."""

    def __init__(self, *args: object, argv: Sequence[str] = (), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._argv = list(argv)

    def error(self, message: str) -> NoReturn:
        """Print usage and ``message`` (with its hint), exit 2, as argparse does."""
        hint = model_option_hint(self._argv, message)
        super().error(f"{message} ({hint})" if hint else message)
