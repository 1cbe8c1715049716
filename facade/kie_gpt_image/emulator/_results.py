"""What a finished task yields: its ``resultJson`` and the file at its result URL.

A model's ``output`` (from the generated catalog) decides the shape: files of its media kind under
``resultUrls``, one per task, served by the file host at ``r/<task id>.<suffix>``; or, for a model whose
document describes a result that is not files (``output == "data"``), that JSON object, shaped like the
example its document gives (``_data_result``). The files are rendered on first download: images composed
from the task's input images (``_images``, PNG, or JPEG where the body asks ``output_format`` jpeg/jpg),
video and audio synthesised (``_media``), all small and valid for their type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from ._images import compose_result, image_size
from ._market import media_urls, model_of, result_size
from ._media import tiny_mp4, tiny_wav
from ._tasks import Task

__all__ = [
    "RESULT_PREFIX",
    "RESULT_TYPES",
    "composed_from",
    "render",
    "result_json",
    "result_key",
    "result_task_id",
]

RESULT_PREFIX = "r/"
"""File-host keys of task results start with this (uploads are under ``kieai/market/``)."""

RESULT_TYPES: Mapping[str, str] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "mp4": "video/mp4",
    "wav": "audio/wav",
}
"""The MIME type of each result file suffix."""

_SUFFIXES: Mapping[str, str] = {"image": "png", "video": "mp4", "audio": "wav"}

# Where the documents the catalog was generated from live in a checkout (``ModelSpec.document`` names one);
# an installed wheel has none, and a data result then falls back to ``{"id": <task id>}``.
_DOCUMENTS = Path(__file__).resolve().parents[3] / "openapi"
# A document states a non-file result in its prose: "the `resultJson` field contains:" and a fenced JSON
# object (https://docs.kie.ai/market/sora2/sora-2-characters).
_EXAMPLE = re.compile(r"resultJson.*?```(?:json)?\s*(\{.*?\})\s*```", re.S)


def _output(task: Task) -> str:
    spec = model_of(task.body)
    return spec.output if spec is not None else "image"


def _suffix(task: Task) -> str | None:
    output = _output(task)
    if output == "image" and str(task.input.get("output_format", "")).lower() in ("jpeg", "jpg"):
        return "jpg"
    return _SUFFIXES.get(output)


def result_key(task: Task) -> str | None:
    """The file-host key of ``task``'s result file (``None``: its model's result is data, not a file)."""
    suffix = _suffix(task)
    return None if suffix is None else f"{RESULT_PREFIX}{task.task_id}.{suffix}"


def result_task_id(key: str, tasks: Mapping[str, Task]) -> str | None:
    """The id of the task whose result file ``key`` names, if it names one exactly."""
    if not key.startswith(RESULT_PREFIX):
        return None
    task_id = key[len(RESULT_PREFIX) :].rpartition(".")[0]
    task = tasks.get(task_id)
    return task_id if task is not None and result_key(task) == key else None


@cache
def _document_example(document: str) -> dict[str, Any] | None:
    try:
        spec = json.loads((_DOCUMENTS / document).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            match = _EXAMPLE.search(str(operation.get("description", "")))
            if match is not None:
                try:
                    example = json.loads(match.group(1))
                except ValueError:
                    continue
                if isinstance(example, dict):
                    return example
    return None


def _like(example: object, name: str, task: Task) -> object:
    # A value of the example's type: strings made unique to the task (an id must not repeat), numbers and
    # flags as the example states them, objects and arrays shaped alike.
    if isinstance(example, str):
        return f"{name}_{task.task_id.rpartition('_')[2]}"
    if isinstance(example, dict):
        return {key: _like(value, key, task) for key, value in example.items()}
    if isinstance(example, list):
        return [_like(item, name, task) for item in example[:1]]
    return example


def _data_result(task: Task) -> dict[str, Any]:
    spec = model_of(task.body)
    example = _document_example(spec.document) if spec is not None else None
    if example is None:
        return {"id": task.task_id}
    shaped = _like(example, "result", task)
    assert isinstance(shaped, dict)  # noqa: S101 - _like keeps a dict a dict
    return shaped


def result_json(task: Task, files_base_url: str) -> dict[str, Any]:
    """The ``resultJson`` object of ``task`` once it succeeded: ``{"resultUrls": [...]}`` for a model whose
    output is files, else the data its document describes."""
    key = result_key(task)
    if key is None:
        return _data_result(task)
    return {"resultUrls": [f"{files_base_url}/{key}"]}


def composed_from(task: Task) -> list[str]:
    """The input image URLs ``task``'s result is composed from."""
    return media_urls(task.body, "image")


def _seed(task: Task) -> str:
    spec = model_of(task.body)
    prompt = task.input.get(spec.prompt_field) if spec is not None and spec.prompt_field else None
    # Without a prompt (an upscaler, text to speech's text field...), the whole input picks the colours.
    return prompt if isinstance(prompt, str) else json.dumps(task.input, sort_keys=True, default=str)


def render(task: Task, inputs: Sequence[tuple[str, bytes | None]], max_side: int | None) -> tuple[bytes, str]:
    """``task``'s result file and its MIME type, from its input images ((url, bytes or ``None``) pairs)."""
    suffix = _suffix(task) or "png"
    if suffix == "mp4":
        return tiny_mp4(_seed(task)), RESULT_TYPES[suffix]
    if suffix == "wav":
        return tiny_wav(_seed(task)), RESULT_TYPES[suffix]
    # An "auto" ratio takes the proportions of the first input image the emulator holds (a readable one).
    input_size = next(
        (size for _, content in inputs if content is not None and (size := image_size(content))), None
    )
    size = result_size(task.body, input_size, max_side)
    png = compose_result(inputs, _seed(task), size)
    if suffix == "jpg":
        return _as_jpeg(png), RESULT_TYPES[suffix]
    return png, RESULT_TYPES[suffix]


def _as_jpeg(png: bytes) -> bytes:
    import io

    from PIL import Image  # compose_result checked that Pillow is installed

    out = io.BytesIO()
    with Image.open(io.BytesIO(png)) as image:
        image.convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue()
