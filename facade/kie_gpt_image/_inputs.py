"""Input validation: every bad argument becomes an ``InvalidInputError`` before anything is sent.

Allowed values and limits come from the generated catalog (``kie_api.models_catalog``, through ``_api``):
a model's options are checked generically from what its document states (type, enum, lengths, bounds,
item counts, required fields and defaults), so a regenerated spec flows through with no edit here. Local
files (images, video, audio) are checked by ``_sources``, whose names are re-exported here.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from . import _api
from ._errors import InvalidInputError
from ._images import sniff_image_type
from ._media import DEFAULT_TYPES
from ._schema import JSON_TYPES, check_schema
from ._sources import (
    DEFAULT_IMAGE_LIMITS,
    AsyncUpload,
    ImageInput,
    ImageLimits,
    ImageSource,
    LocalImage,
    check_image,
    check_images,
    check_text,
    check_url,
    is_named_pair,
    is_pil_image,
    is_url_like,
    safe_file_name,
)
from ._urls import is_loopback_host as is_loopback_host  # the one rule (``_urls``), for _cli

__all__ = [
    "DEFAULT_IMAGE_LIMITS",
    "AsyncUpload",
    "ImageInput",
    "ImageLimits",
    "ImageSource",
    "LocalImage",
    "MediaValue",
    "RunInput",
    "TaskInput",
    "TaskKind",
    "check_callback_url",
    "check_choice",
    "check_image",
    "check_images",
    "check_model",
    "check_option",
    "check_options",
    "check_prompt",
    "check_run",
    "check_task",
    "check_text",
    "check_url",
    "is_url_like",
    "plan_of",
    "safe_file_name",
    "sniff_image_type",
]


def check_prompt(prompt: object, spec: _api.FieldSpec | None = None) -> str:
    """A non-empty string that can be sent as UTF-8, within the lengths ``spec`` (the model's prompt
    field) states: gpt-image-2 takes at most 20,000 characters; the 1.5 documents state no limit."""
    if not isinstance(prompt, str):
        raise InvalidInputError("prompt", f"must be a string, not {type(prompt).__name__}")
    if not prompt.strip():
        raise InvalidInputError("prompt", "must not be empty")
    check_text("prompt", prompt)
    if spec is not None and spec.max_length is not None and len(prompt) > spec.max_length:
        raise InvalidInputError(
            "prompt", f"is {len(prompt)} characters long; kie.ai accepts at most {spec.max_length}"
        )
    return prompt


def _same_kind(a: object, b: object) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and isinstance(a, str) == isinstance(b, str)


def check_choice(field: str, value: object, allowed: tuple[Any, ...]) -> Any:
    """``value`` (or a str enum's value) if it is one of ``allowed``."""
    given = value.value if isinstance(value, enum.Enum) else value
    # 1 == True in Python and "1" is no 1: a JSON enum tells them apart.
    if not any(_same_kind(given, option) and given == option for option in allowed):
        raise InvalidInputError(field, f"{value!r} is not one of {', '.join(str(a) for a in allowed)}")
    return given


_A = {"integer": "an", "array": "an", "object": "an"}


def _check_type(field: str, value: object, json_type: str | None) -> None:
    types = JSON_TYPES.get(json_type or "")
    if types is None:
        return
    if isinstance(value, bool) and json_type in ("integer", "number"):
        types = ()
    if not isinstance(value, types):
        raise InvalidInputError(
            field, f"must be {_A.get(json_type or '', 'a')} {json_type}, not {type(value).__name__}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(field, f"must be a finite number, not {value!r}")


def check_option(spec: _api.FieldSpec, value: object) -> Any:
    """``value`` checked against everything the document states of the field: its type, enum, lengths,
    bounds and item counts (and each item's type); returned as it will be sent."""
    field = spec.name
    if spec.enum is not None:
        return check_choice(field, value, spec.enum)
    _check_type(field, value, spec.type)
    if isinstance(value, str):
        check_text(field, value)
        if spec.min_length is not None and len(value) < spec.min_length:
            raise InvalidInputError(field, f"must be at least {spec.min_length} characters long")
        if spec.max_length is not None and len(value) > spec.max_length:
            raise InvalidInputError(field, f"must be at most {spec.max_length} characters long")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise InvalidInputError(field, f"{value!r} is below the minimum of {spec.minimum:g}")
        if spec.maximum is not None and value > spec.maximum:
            raise InvalidInputError(field, f"{value!r} is above the maximum of {spec.maximum:g}")
    if isinstance(value, (list, tuple)):
        if spec.min_items is not None and len(value) < spec.min_items:
            raise InvalidInputError(field, f"{len(value)} given; at least {spec.min_items} needed")
        if spec.max_items is not None and len(value) > spec.max_items:
            raise InvalidInputError(field, f"{len(value)} given; kie.ai accepts at most {spec.max_items}")
        for index, item in enumerate(value):
            _check_type(f"{field}[{index}]", item, spec.items_type)
            if isinstance(item, str):
                check_text(f"{field}[{index}]", item)
        return list(value)
    return value


def check_options(spec: _api.ModelSpec, options: Mapping[str, object]) -> dict[str, Any]:
    """The ``input`` fields of ``spec``'s model but the prompt and images, from ``options``: each given
    one checked (``check_option``; ``None`` counts as not given), each required one that is not given
    filled with its document's default, or refused when it has none.

    Raises:
        InvalidInputError: naming the option: unknown to the model, or a value the document refuses.
    """
    known = {f.name: f for f in spec.fields if f.name not in ("prompt", spec.image_field)}
    checked: dict[str, Any] = {}
    for name, value in options.items():
        if name not in known:
            hint = _did_you_mean(name, known)
            names = ", ".join(known) or "none"
            raise InvalidInputError(name, f"is not an option of {spec.model} (its options: {names}){hint}")
        if value is not None:
            checked[name] = _check_field(spec, known[name], value)  # media fields take files here too
    for name, field in known.items():
        if name in checked or not field.required:
            continue
        if not field.has_default:
            raise InvalidInputError(name, f"is required by {spec.model}")
        checked[name] = field.default
    # In the document's order, as the body is described.
    return {name: checked[name] for name in known if name in checked}


def _did_you_mean(name: str, known: Iterable[str], n: int = 1) -> str:
    import difflib  # for this hint only: importing it costs about 2 ms at package import

    near = difflib.get_close_matches(name, list(known), n=n)
    return f"; did you mean {' or '.join(map(repr, near))}?" if near else ""


TaskKind = Literal["edit", "generate", "any"]


def check_model(model: object, kind: TaskKind) -> _api.ModelSpec:
    """The catalog entry of ``model``, a model that ``kind`` of call can use: ``edit`` needs one that
    takes input images, ``generate`` one that does not.

    Raises:
        InvalidInputError: naming ``model``.
    """
    spec = _api.model_spec(model) if isinstance(model, str) else None
    if spec is None:
        hint = _did_you_mean(model, _api.MODELS, n=3) if isinstance(model, str) else ""
        raise InvalidInputError(
            "model",
            f"{model!r} is not one of the catalog's {len(_api.MODELS)} models{hint} (every one: "
            "kie_gpt_image.MODELS or kie-gpt-image models; one kie.ai added since: run(..., validate=False))",
        )
    if kind == "edit" and not spec.takes_images:
        raise InvalidInputError("model", f"{spec.model} takes no input images: call generate() instead")
    if kind == "generate" and spec.takes_images:
        raise InvalidInputError("model", f"{spec.model} needs input images: call edit() instead")
    return spec


@dataclass(frozen=True, slots=True)
class TaskInput:
    """A validated createTask: the model, its images to send, and the rest of its ``input``."""

    model: str
    images: list[ImageSource]
    """Local images to upload and URLs to pass through, for the model's image field (or empty)."""
    input: dict[str, Any]
    """The ``input`` object but the image field: the prompt and the options."""

    def plan(self, callback_url: str | None = None) -> RunInput:
        """The same task as a ``RunInput``: what ``run`` sends, so ``edit``/``generate`` take its path."""
        return plan_of(self.model, self.images, self.input, callback_url)


def plan_of(
    model: str, images: list[ImageSource], input: Mapping[str, Any], callback_url: str | None = None
) -> RunInput:
    """``edit``'s task as a ``RunInput``: ``images`` go to the model's image field (one value for a field
    that takes one URL string, as ``image_url`` does; the list for an array field), then ``input``."""
    spec = _api.MODELS[model]
    field = spec.field(spec.image_field) if spec.image_field else None
    # The other media fields given as options hold checked files too (``check_options``).
    others = tuple(f.name for f in _api.media_fields(spec) if f.name in input and f is not field)
    if field is None:
        return RunInput(model, dict(input), others, callback_url)
    value: MediaValue = list(images) if field.type == "array" or not images else images[0]
    return RunInput(model, {field.name: value, **input}, (field.name, *others), callback_url)


def check_task(
    model: object, images: object | None, prompt: object, options: Mapping[str, object], kind: TaskKind
) -> TaskInput:
    """Check a whole createTask against ``model``'s catalog entry, before anything is sent.

    ``images`` is None for ``generate``; with ``kind="any"`` (the CLI, the batch) an empty list is what a
    model without images takes.
    """
    spec = check_model(model, kind)
    if _api.prompt_field(spec) is None:
        raise InvalidInputError(
            "prompt", f"{spec.model} takes no prompt: call run({spec.model!r}, input={{...}}) with its fields"
        )
    if spec.takes_images:
        limits = ImageLimits.of(spec)
        field = spec.field(spec.image_field or "")
        if field is not None and field.type != "array":  # one URL string (image_url): one image
            limits = replace(limits, max_items=1)
        sources = check_images(images, limits)
    elif images is None or (isinstance(images, (list, tuple)) and not images):
        sources = []
    else:
        raise InvalidInputError("images", f"{spec.model} takes no input images")
    text = check_prompt(prompt, spec.field("prompt"))
    return TaskInput(spec.model, sources, {"prompt": text, **check_options(spec, options)})


def check_callback_url(value: object, *, allow_http: bool) -> str:
    """An https URL; plain http only when ``allow_http`` is set, and then only to a loopback host
    (``localhost``, 127.0.0.0/8, ``::1``: a receiver in a test), never in clear text across a network."""
    if not isinstance(value, str):
        raise InvalidInputError("callback_url", f"must be a string, not {type(value).__name__}")
    url = check_url("callback_url", value)
    parts = urlsplit(url)
    if parts.scheme == "http":
        if not allow_http:
            raise InvalidInputError(
                "callback_url",
                "must be https (kie.ai posts task results to it); pass allow_http_callback=True to allow "
                "http to a loopback host",
            )
        if not is_loopback_host(parts.hostname):
            raise InvalidInputError(
                "callback_url",
                f"plain http is allowed only to loopback hosts (localhost, 127.0.0.1, ::1), not "
                f"{parts.hostname!r}: use https",
            )
    return url


MediaValue = ImageSource | list[ImageSource]
"""A media field's checked value: one file or URL (a string field), or a list of them (an array)."""


@dataclass(frozen=True, slots=True)
class RunInput:
    """A checked createTask of any model (``check_run``; ``TaskInput.plan`` for ``edit``/``generate``):
    its ``input`` object, whose media fields still hold local files to upload."""

    model: str
    fields: dict[str, Any]
    """The ``input`` object to send, in order; each field of ``media`` holds a ``MediaValue``."""
    media: tuple[str, ...]
    """The fields holding files or URLs (local files are uploaded, then replaced by their URLs)."""
    callback_url: str | None = None
    known: bool = True
    """Whether the catalog knows the model (False: sent unchecked, ``run(..., validate=False)``)."""

    def sources(self) -> list[ImageSource]:
        """Every file and URL of the media fields, in order (what the upload step takes)."""
        found: list[ImageSource] = []
        for name in self.media:
            value = self.fields[name]
            found.extend(value if isinstance(value, list) else [value])
        return found

    def with_urls(self, urls: Sequence[str]) -> dict[str, Any]:
        """The ``input`` to send: each source of ``sources()`` replaced by its URL in ``urls``."""
        given = iter(urls)
        sent = dict(self.fields)
        for name in self.media:
            value = sent[name]
            sent[name] = [next(given) for _ in value] if isinstance(value, list) else next(given)
        return sent

    def mapped(self, change: Callable[[ImageSource], ImageSource]) -> RunInput:
        """The same task with each media source passed through ``change`` (upload-progress wrappers)."""
        fields = dict(self.fields)
        for name in self.media:
            value = fields[name]
            fields[name] = [change(v) for v in value] if isinstance(value, list) else change(value)
        return RunInput(self.model, fields, self.media, self.callback_url, self.known)


def _local_value(value: object) -> bool:
    """Whether ``value`` is plainly a local file (not a string: a string is passed as given)."""
    return (
        isinstance(value, (bytes, bytearray, memoryview, os.PathLike))
        or callable(getattr(value, "read", None))
        or is_pil_image(value)
        or (isinstance(value, tuple) and len(value) in (2, 3) and is_named_pair(value))
    )


_ANY_FILE = ImageLimits(10**9, None, tuple(t for types in DEFAULT_TYPES.values() for t in types), "file")


def check_media(field: _api.FieldSpec, value: object) -> MediaValue:
    """A media field's value: one file or URL (a string field) or a list of them (an array field; a
    single file is taken as a list of one), each checked as ``images`` entries are, against the field's
    kind, accepted types, size limit and item counts.

    Raises:
        InvalidInputError: naming the field or the entry at fault (``image_urls[1]``).
    """
    limits = ImageLimits.of_field(field)
    name = field.name
    if field.type != "array":
        if isinstance(value, (list, tuple)) and not is_named_pair(value):
            raise InvalidInputError(
                name, f"takes one {limits.kind} (a path, bytes, a file or a URL), not a list"
            )
        return check_image(name, value, limits)
    if isinstance(value, (list, tuple)) and not is_named_pair(value):
        entries: Sequence[object] = value
    else:
        entries = [value]
    low = field.min_items or 0
    if not low <= len(entries) <= limits.max_items:
        raise InvalidInputError(
            name, f"{len(entries)} given; kie.ai accepts {low} to {limits.max_items} {limits.kind} files"
        )
    return [check_image(f"{name}[{i}]", entry, limits) for i, entry in enumerate(entries)]


def _check_field(spec: _api.ModelSpec, field: _api.FieldSpec, value: object) -> Any:
    if _api.field_media(field) is not None:
        return check_media(field, value)
    if field.name == _api.prompt_field(spec):
        return check_prompt(value, field)
    checked = check_option(field, value)
    schema = _api.field_schema(field)
    if schema and isinstance(checked, (list, dict)):
        check_schema(field.name, checked, schema)
    return checked


def check_run(
    model: object,
    input: Mapping[str, object] | None,
    *,
    validate: bool = True,
    callback_url: object = None,
    allow_http_callback: bool = False,
    timeout: object = None,
) -> RunInput:
    """Check a ``run(model, input)`` call before anything is sent: the model against the catalog (with
    the nearest ids when it is unknown), each field of ``input`` against the model's document (its
    name, type, enum, bounds, nested items; media fields as files or URLs), the required ones present
    (the document's default when it has one). ``validate=False`` skips the catalog (a model kie.ai added
    since the last regenerate): ``input`` is sent as given, with only its plainly local values (bytes,
    ``Path`` objects, files, PIL images, ``(name, bytes)``, or lists of them) uploaded.

    Raises:
        InvalidInputError: naming the argument or the field (``multi_prompt[0].prompt``).
    """
    if input is None:
        input = {}
    if not isinstance(input, Mapping):
        raise InvalidInputError("input", f"must be a dict of the model's fields, not {type(input).__name__}")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0
    ):
        raise InvalidInputError("timeout", "must be a non-negative number of seconds")
    callback = (
        None if callback_url is None else check_callback_url(callback_url, allow_http=allow_http_callback)
    )
    if not validate:
        if not isinstance(model, str) or not model.strip():
            raise InvalidInputError("model", "must be a model id (a non-empty string)")
        check_text("model", model)
        return _unchecked(model, input, callback)
    spec = check_model(model, "any")
    if callback is not None and spec.callback_field is None:
        raise InvalidInputError("callback_url", f"{spec.model} takes no callback URL")
    known = {f.name: f for f in spec.fields}
    fields: dict[str, Any] = {}
    for name, value in input.items():
        field = known.get(name) if isinstance(name, str) else None
        if field is None:
            names = ", ".join(known) or "none"
            hint = _did_you_mean(name, known) if isinstance(name, str) else ""
            raise InvalidInputError(str(name), f"is not a field of {spec.model} (its fields: {names}){hint}")
        if value is not None:
            fields[name] = _check_field(spec, field, value)
    for name, field in known.items():
        if name in fields or not field.required:
            continue
        if not field.has_default:
            raise InvalidInputError(name, f"is required by {spec.model}")
        fields[name] = field.default
    ordered = {name: fields[name] for name in known if name in fields}  # the document's order
    media = tuple(f.name for f in _api.media_fields(spec) if f.name in ordered)
    return RunInput(spec.model, ordered, media, callback)


def _unchecked(model: str, input: Mapping[str, object], callback: str | None) -> RunInput:
    fields: dict[str, Any] = {}
    media: list[str] = []
    for name, value in input.items():
        if not isinstance(name, str):
            raise InvalidInputError(str(name), "field names must be strings")
        items = value if isinstance(value, list) else None
        if items is not None and any(_local_value(v) for v in items):
            if not all(_local_value(v) or isinstance(v, str) for v in items):
                raise InvalidInputError(name, "a list holding local files may hold only files and URLs")
            fields[name] = [
                check_image(f"{name}[{i}]", v, _ANY_FILE) if _local_value(v) else v
                for i, v in enumerate(items)
            ]
            media.append(name)
        elif _local_value(value):
            fields[name] = check_image(name, value, _ANY_FILE)
            media.append(name)
        else:
            fields[name] = value
    # Only the plainly local values are sources; the other items of a list stay as given (URLs).
    return RunInput(model, fields, tuple(media), callback, known=model in _api.MODELS)
