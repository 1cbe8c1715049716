"""Names derived from a document: the class-name stems and module names the generator uses."""

from __future__ import annotations

import re

__all__ = ["module_of", "pascal"]


def pascal(text: str) -> str:
    """``get-task-details`` -> ``GetTaskDetails``: the generator's class-name stem of an operation."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", text) if part)


def module_of(op_id: str) -> str:
    """``gpt-image-1-5-image-to-image`` -> ``gpt_image_1_5_image_to_image``: its endpoint module."""
    return re.sub(r"[^0-9a-z]+", "_", op_id.lower()).strip("_")
