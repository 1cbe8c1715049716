"""What a finished task yields: its ``resultJson`` and the file at its result URL.

A model's ``output`` (from the generated catalog) decides the shape: files of its media kind under
``resultUrls``, one per task, served by the file host at ``r/<task id>.<suffix>``; or, for a model whose
document describes a result that is not files, that JSON object (``_data``). The files are rendered on
first download: images composed from the task's inputs (``_images``), video and audio synthesised
(``_media``), all small and valid for their type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._images import compose_result, image_size
from ._market import image_urls, result_size
from ._tasks import Task

__all__ = ["RESULT_PREFIX", "render", "result_json", "result_key", "result_task_id", "result_urls_of"]

RESULT_PREFIX = "r/"
"""File-host keys of task results start with this (uploads are under ``kieai/market/``)."""


def result_key(task: Task) -> str:
    """The file-host key of ``task``'s result file."""
    return f"{RESULT_PREFIX}{task.task_id}.png"


def result_task_id(key: str, tasks: Mapping[str, Task]) -> str | None:
    """The id of the task whose result file ``key`` names, if it names one exactly."""
    if not key.startswith(RESULT_PREFIX):
        return None
    task_id = key[len(RESULT_PREFIX) :].rpartition(".")[0]
    task = tasks.get(task_id)
    return task_id if task is not None and result_key(task) == key else None


def result_json(task: Task, files_base_url: str) -> dict[str, Any]:
    """The ``resultJson`` object of ``task`` once it succeeded."""
    return {"resultUrls": [f"{files_base_url}/{result_key(task)}"]}


def result_urls_of(task: Task) -> list[str]:
    """The input image URLs ``task``'s result is composed from."""
    return image_urls(task.body)


def render(task: Task, inputs: Sequence[tuple[str, bytes | None]], max_side: int | None) -> tuple[bytes, str]:
    """``task``'s result file and its MIME type, from its inputs ((url, bytes or ``None``) pairs)."""
    # An "auto" ratio takes the proportions of the first input image the emulator holds (a readable one).
    input_size = next(
        (size for _, content in inputs if content is not None and (size := image_size(content))), None
    )
    size = result_size(task.body, input_size, max_side)
    return compose_result(inputs, str(task.input.get("prompt", "")), size), "image/png"
