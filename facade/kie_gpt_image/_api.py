"""The one adapter between the facade and the generated ``kie_api`` package.

Requests are described with the generated models and each operation's generated ``request_kwargs``
(method, path, parameters and body exactly as the spec defines them); replies are parsed with the
generated models and converted to public dataclasses here, so attrs classes and ``UNSET`` never reach
a public signature.

Why not call the generated ``sync_detailed``/``asyncio_detailed``: they perform the I/O themselves,
which the sans-I/O task flow (``_flow``) cannot yield as an effect, and their ``HTTPStatus(...)``
raises on a non-standard status (455, 520) before any handler sees the reply (reference §7). Building
the request and parsing the reply separately keeps the reply bytes for error messages and lets one
flow serve both the sync and the async client.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Concatenate, Literal, ParamSpec, TypeVar

import httpx

from kie_api import model_methods as _methods
from kie_api import models_catalog as _catalog
from kie_api.model_methods import DEFAULT_EDIT_MODEL, CreateTaskCall, EditCall, GenerateCall
from kie_api.models_catalog import OPTIONS, FieldSpec, MediaKind, ModelSpec, OutputKind

from ._errors import UnexpectedResponseError
from ._models import Task, TaskInfo, TaskState, UploadedFile
from ._replies import read_envelope

__all__ = [
    "ASPECT_RATIOS",
    "DEFAULT_ASPECT_RATIO",
    "DEFAULT_EDIT_MODEL",
    "DEFAULT_GENERATE_MODEL",
    "DEFAULT_QUALITY",
    "INPUT_IMAGE_MIME_TYPES",
    "MAX_INPUT_IMAGES",
    "MAX_INPUT_IMAGE_BYTES",
    "MEDIA_KINDS",
    "MODEL",
    "MODELS",
    "OPTIONS",
    "QUALITIES",
    "CreateTaskCall",
    "EditCall",
    "FieldSpec",
    "GenerateCall",
    "MediaKind",
    "ModelSpec",
    "Operation",
    "OutputKind",
    "RequestSpec",
    "base64_upload_request",
    "create_body_problem",
    "create_task_request",
    "credits_request",
    "describe",
    "download_url_request",
    "field_media",
    "field_schema",
    "get_task_request",
    "image_limits",
    "media_fields",
    "model_output",
    "model_spec",
    "model_specs",
    "operation_id",
    "parse_created_task",
    "parse_credits",
    "parse_download_url",
    "parse_task_info",
    "parse_upload",
    "prompt_field",
    "result_data",
    "safe_text",
    "stream_upload_request",
    "task_id_in",
    "task_info_from_record",
    "url_upload_request",
]

P = ParamSpec("P")
R = TypeVar("R")

# What the generated parsers raise on shapes the spec does not describe (reference §7): they never leave
# this module. RecursionError: absurdly nested JSON; OverflowError: 1e400 where an integer is expected.
_DECODE_ERRORS = (TypeError, ValueError, KeyError, AttributeError, RecursionError, OverflowError)


def _boundary(
    operation: str,
) -> Callable[[Callable[Concatenate[httpx.Response, P], R]], Callable[Concatenate[httpx.Response, P], R]]:
    """Turn whatever the generated models raise on a reply into ``UnexpectedResponseError``."""

    def wrap(
        parse: Callable[Concatenate[httpx.Response, P], R],
    ) -> Callable[Concatenate[httpx.Response, P], R]:
        @functools.wraps(parse)
        def parse_reply(response: httpx.Response, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return parse(response, *args, **kwargs)
            except _DECODE_ERRORS as exc:
                raise UnexpectedResponseError(
                    f"reply does not match the spec ({type(exc).__name__}: {exc})",
                    operation=operation,
                    status_code=response.status_code,
                    body=response.content,
                ) from exc

        return parse_reply  # type: ignore[return-value]  # functools.wraps' _Wrapped is the same callable

    return wrap


def safe_text(text: str) -> str:
    """``text`` if it can be sent as UTF-8, else with its lone surrogates escaped (``\\ud800``): the
    form in which an id that cannot be sent back is still shown to the user."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


# Allowed values, defaults and limits, all from the generated catalog (never retyped here). The names
# below are the default model's, kept for the code and the users that read them before there were
# several models; every model's own table is ``MODELS[model_id]``.
if DEFAULT_EDIT_MODEL is None:  # pragma: no cover - scripts/regenerate names the seed's model
    raise ImportError("kie_api.model_methods names no default edit model: run scripts/regenerate")
MODEL: str = DEFAULT_EDIT_MODEL
"""The model ``edit`` and ``create_task`` use when none is named (gpt-image/1.5-image-to-image)."""
MODELS: dict[str, ModelSpec] = _catalog.MODELS
"""Every market model in ``openapi/`` by its model id: its ``ModelSpec`` (each option's type, enum,
default, limits; whether it takes input images). ``edit`` takes those with an ``image_field``,
``generate`` the others."""
DEFAULT_GENERATE_MODEL: str | None = _methods.DEFAULT_GENERATE_MODEL
"""The model ``generate`` uses when none is named (gpt-image/1.5-text-to-image)."""


def _seed_field(name: str) -> FieldSpec:
    found = MODELS[MODEL].field(name)
    if found is None:  # pragma: no cover - scripts/regenerate fails first (spec_constants_module)
        raise ImportError(f"{MODEL} has no input field {name!r}: run scripts/regenerate")
    return found


_SEED_IMAGES = _seed_field(MODELS[MODEL].image_field or "input_urls")
ASPECT_RATIOS: tuple[str, ...] = tuple(_seed_field("aspect_ratio").enum or ())
QUALITIES: tuple[str, ...] = tuple(_seed_field("quality").enum or ())
DEFAULT_ASPECT_RATIO: str = _seed_field("aspect_ratio").default
DEFAULT_QUALITY: str = _seed_field("quality").default
MAX_INPUT_IMAGES: int = _SEED_IMAGES.max_items or 16
# Only the seed's document states a file size and MIME types for its images (in the prose of
# input_urls); gpt-image-2's documents state none. These are the image policy for a model whose image
# field states no limits of its own (``image_limits``): the same uploads, the same kie.ai file host.
MAX_INPUT_IMAGE_BYTES: int = _SEED_IMAGES.max_file_bytes or 10_000_000
INPUT_IMAGE_MIME_TYPES: tuple[str, ...] = _SEED_IMAGES.mime_types or ("image/jpeg", "image/png", "image/webp")


# MediaKind (image, video, audio: what a media field takes by URL) and OutputKind (those, or "data": what
# a task yields) are the catalog's own.
MEDIA_KINDS: tuple[MediaKind, ...] = ("image", "video", "audio")


# The catalog's media marks are read through these, so the facade has one place that knows them.
def field_media(field: FieldSpec) -> MediaKind | None:
    """The kind of file ``field`` takes by URL (one string or an array of them), or None."""
    return field.media


def field_schema(field: FieldSpec) -> Mapping[str, Any]:
    """``field``'s JSON schema (refs resolved), for checking nested objects and arrays item by item."""
    return field.schema


def media_fields(spec: ModelSpec) -> tuple[FieldSpec, ...]:
    """The fields of ``spec`` that take files by URL, in document order."""
    return spec.media_fields


def model_output(spec: ModelSpec) -> OutputKind:
    """What ``spec``'s successful task yields."""
    return spec.output


def prompt_field(spec: ModelSpec) -> str | None:
    """``"prompt"`` when the model's ``input`` has a prompt field, else None."""
    return spec.prompt_field


def model_spec(model: str) -> ModelSpec | None:
    """The catalog entry of ``model``, or None when no document in ``openapi/`` describes it."""
    return MODELS.get(model)


def image_limits(spec: ModelSpec) -> tuple[int, int, tuple[str, ...]]:
    """(max images, max bytes per image, MIME types) for ``spec``'s image field: what its document
    states, else the seed's statement (see ``MAX_INPUT_IMAGE_BYTES``)."""
    image = spec.field(spec.image_field) if spec.image_field else None
    if image is None:
        return 0, MAX_INPUT_IMAGE_BYTES, INPUT_IMAGE_MIME_TYPES
    return (
        image.max_items if image.max_items is not None else MAX_INPUT_IMAGES,
        image.max_file_bytes or MAX_INPUT_IMAGE_BYTES,
        image.mime_types or INPUT_IMAGE_MIME_TYPES,
    )


Host = Literal["api", "upload"]
Operation = Literal[
    "gpt-image-1-5-image-to-image",
    "get-task-details",
    "get-account-credits",
    "get-download-url",
    "upload-file-stream",
    "upload-file-base64",
    "upload-file-url",
]


@dataclass(slots=True)
class RequestSpec:
    """One request to kie.ai, as data: the drivers turn it into an ``httpx.Request`` and send it."""

    operation: str
    """An ``Operation``, or for createTask the model's operationId (``MODELS[model].operation_id``)."""
    host: Host
    kwargs: dict[str, Any]
    """``method``, ``url`` (a path), and ``params``/``json``/``files``/``headers`` for httpx."""
    paid: bool = False
    """True for createTask: never resent unless the first attempt provably never reached kie.ai."""
    close: Callable[[], None] | None = field(default=None, repr=False)
    """Releases what the request holds open (an input file), after the attempt."""


def _spec(operation: str, host: Host, kwargs: dict[str, Any], **extra: Any) -> RequestSpec:
    return RequestSpec(operation, host, kwargs, **extra)


def operation_id(model: str) -> str:
    """The operation a createTask of ``model`` is named by in errors and the scheduler: its document's
    operationId, or ``createTask`` for a model the catalog does not know."""
    spec = MODELS.get(model)
    return spec.operation_id if spec is not None else "createTask"


def create_task_request(model: str, input: Mapping[str, Any], callback_url: str | None) -> RequestSpec:
    """createTask for ``model`` with its validated ``input`` (``_inputs.check_task``), built with the
    model's generated body class and endpoint module, as ``MODELS[model]`` names them. A model the
    catalog does not know (``run(..., validate=False)``) gets the body every market document shares:
    ``{"model", "input", "callBackUrl"}`` posted to ``/api/v1/jobs/createTask``."""
    spec = MODELS.get(model)
    if spec is None:
        raw: dict[str, Any] = {"model": model, "input": dict(input)}
        if callback_url:
            raw["callBackUrl"] = callback_url
        kwargs = {"method": "post", "url": "/api/v1/jobs/createTask", "json": raw}
        return _spec("createTask", "api", kwargs, paid=True)
    body: dict[str, Any] = {"model": model, "input": dict(input)}
    if callback_url and spec.callback_field:
        body[spec.callback_field] = callback_url
    endpoint = importlib.import_module(spec.endpoint_module)
    kwargs = endpoint.request_kwargs(body=_generated_class(spec.body_class).from_dict(body))
    return _spec(spec.operation_id, "api", kwargs, paid=True)


def create_body_problem(body: Mapping[str, Any]) -> str | None:
    """Why a createTask body does not parse with its model's generated body class (required fields,
    enum values), or ``None``; the emulator validates requests of every model with it.

    The model is the body's ``model``; one missing from the catalog (``model_specs``) is a problem too.
    """
    model = body.get("model")
    spec = model_specs().get(model) if isinstance(model, str) else None
    if spec is None:
        return f"model {model!r} is not one of: {', '.join(model_specs())}"
    try:
        _generated_class(spec.body_class).from_dict(body)
    except KeyError as exc:
        return f"invalid request: missing required field {exc.args[0]!r}"
    except (ValueError, TypeError, AttributeError) as exc:
        return f"invalid request: {exc}"
    return None


def get_task_request(task_id: str) -> RequestSpec:
    """recordInfo for one task."""
    from kie_api.api.default import get_task_details

    return _spec("get-task-details", "api", get_task_details.request_kwargs(task_id=task_id))


def credits_request() -> RequestSpec:
    """Remaining account credits."""
    from kie_api.api.default import get_account_credits

    return _spec("get-account-credits", "api", get_account_credits.request_kwargs())


def download_url_request(url: str) -> RequestSpec:
    """A temporary direct-download URL for a kie.ai-generated file."""
    from kie_api.api.default import get_download_url
    from kie_api.models.get_download_url_body import GetDownloadUrlBody

    return _spec("get-download-url", "api", get_download_url.request_kwargs(body=GetDownloadUrlBody(url=url)))


def stream_upload_request(
    stream: IO[bytes], *, name: str, mime_type: str, upload_path: str, file_name: str | None
) -> RequestSpec:
    """multipart upload of an open binary stream (closed after the attempt)."""
    from kie_api.api.default import upload_file_stream
    from kie_api.models.upload_file_stream_body import UploadFileStreamBody
    from kie_api.types import File

    body = UploadFileStreamBody(
        file=File(payload=stream, file_name=name, mime_type=mime_type),  # type: ignore[arg-type]
        upload_path=upload_path,
        **({"file_name": file_name} if file_name else {}),
    )
    # The endpoint template (scripts/templates/endpoint_module.py.jinja) sets no multipart boundary, so
    # httpx picks a random one (the generator's default "+++" is corrupted by a payload holding it).
    kwargs = upload_file_stream.request_kwargs(body=body)
    return _spec("upload-file-stream", "upload", kwargs, close=stream.close)


def base64_upload_request(data_url: str, *, upload_path: str, file_name: str | None) -> RequestSpec:
    """JSON upload of base64 (or data-URL) content."""
    from kie_api.api.default import upload_file_base64
    from kie_api.models.base_64_upload_request import Base64UploadRequest as UploadFileBase64Body

    body = UploadFileBase64Body(
        base_64_data=data_url, upload_path=upload_path, **({"file_name": file_name} if file_name else {})
    )
    return _spec("upload-file-base64", "upload", upload_file_base64.request_kwargs(body=body))


def url_upload_request(url: str, *, upload_path: str, file_name: str | None) -> RequestSpec:
    """Have kie.ai fetch a public URL into its upload storage."""
    from kie_api.api.default import upload_file_url
    from kie_api.models.url_upload_request import UrlUploadRequest as UploadFileUrlBody

    body = UploadFileUrlBody(
        file_url=url, upload_path=upload_path, **({"file_name": file_name} if file_name else {})
    )
    return _spec("upload-file-url", "upload", upload_file_url.request_kwargs(body=body))


# ------------------------------------------------------------------------------------------- replies


def _unexpected(message: str, operation: str, response: httpx.Response) -> UnexpectedResponseError:
    return UnexpectedResponseError(
        message, operation=operation, status_code=response.status_code, body=response.content
    )


def describe(request: RequestSpec) -> str:
    """What a createTask request submitted (model, prompt excerpt, inputs), to find its task again."""
    body = request.kwargs.get("json") or {}
    data = body.get("input", {}) if isinstance(body, dict) else {}
    data = data if isinstance(data, dict) else {}
    prompt = str(data.get("prompt", ""))
    rest = " ".join(f"{name}={value!r}" for name, value in data.items() if name != "prompt")
    return f"model={body.get('model')!r} prompt={prompt[:80]!r}{'...' if len(prompt) > 80 else ''}" + (
        f" {rest}" if rest else ""
    )


def parse_created_task(response: httpx.Response, operation: str = "gpt-image-1-5-image-to-image") -> Task:
    """The task id from a createTask reply (``operation``: the model's operationId, for errors)."""
    return _boundary(operation)(_parse_created_task)(response, operation)


def _parse_created_task(response: httpx.Response, operation: str) -> Task:
    # Every market model's createTask answers the same envelope ({code, msg, data: {taskId}}, the
    # documents in openapi/): the seed's generated reply model reads them all.
    from kie_api.models.gpt_image_15_image_to_image_response_200 import GptImage15ImageToImageResponse200

    reply = GptImage15ImageToImageResponse200.from_dict(read_envelope(response, operation))
    task_id = getattr(reply.data, "task_id", None)  # data may be None or UNSET
    if not isinstance(task_id, str) or not task_id:
        raise _unexpected("createTask reply has no data.taskId", operation, response)
    if safe_text(task_id) != task_id:
        # A lone surrogate cannot go into a recordInfo URL: the task exists and was paid for, so its
        # id must reach the user in the one form that can be shown (issue 11 item 2).
        raise UnexpectedResponseError(
            f"createTask answered a task id that cannot be sent back: {safe_text(task_id)}",
            operation=operation,
            status_code=response.status_code,
            body=None,
            task_id=safe_text(task_id),
        )
    return Task(task_id=task_id)


def task_id_in(response: httpx.Response) -> str | None:
    """The ``data.taskId`` a reply carries, if any, whatever else is wrong with it.

    A createTask whose reply cannot be trusted as a whole (HTTP 520 around a success envelope) may
    still name the task it created: that id must reach the user.
    """
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    data = body.get("data") if isinstance(body, dict) else None
    task_id = data.get("taskId") if isinstance(data, dict) else None
    return safe_text(task_id) if isinstance(task_id, str) and task_id else None


@_boundary("get-task-details")
def parse_task_info(response: httpx.Response, task_id: str) -> TaskInfo:
    """A recordInfo reply as ``TaskInfo``.

    The envelope is decoded once (``read_envelope``) and its ``data`` read straight into ``TaskInfo`` by
    the field names of the generated ``TaskRecord`` (``_record_keys``): the generated models read an
    object without checking its values' types (``_task_info`` does), so building the envelope and
    record models first only cost a third of a poll's overhead (issue 25 item 1, scripts/bench_overhead.py
    --profile get_task)."""
    operation = "get-task-details"
    data = read_envelope(response, operation).get("data")
    if not isinstance(data, dict):  # the generated envelope reads any other ``data`` as no record
        raise _unexpected("recordInfo reply has no task record in data", operation, response)
    return _task_info(data, task_id)


def task_info_from_record(record: Mapping[str, Any], task_id: str | None = None) -> TaskInfo:
    """Parse a task record (the ``data`` of recordInfo or of a callback) as ``TaskInfo``.

    Raises:
        UnexpectedResponseError: the record does not parse (generated-code errors never leave here).
    """
    try:
        return _task_info(record, task_id)
    except _DECODE_ERRORS as exc:
        raise UnexpectedResponseError(
            f"task record cannot be read ({type(exc).__name__})",
            operation="task-record",
            status_code=None,
            body=None,
            task_id=task_id,
        ) from exc


def _str(value: object) -> str | None:
    # UNSET, None and values of the wrong type all read as "absent".
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = str(value)
        return text if text != "" else None
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, float):
        # JSON allows 1e400 and some encoders emit Infinity/NaN: int() of those raises.
        return int(value) if math.isfinite(value) else None
    return None


def _time(value: object) -> datetime | None:
    millis = _int(value)
    if millis is None or millis <= 0:
        return None
    try:
        return datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _json_object(value: object) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value:
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON in a string field
            return None
        return decoded if isinstance(decoded, dict) else None
    return None


def result_data(info: TaskInfo) -> dict[str, Any]:
    """The parsed ``resultJson`` of a task record (``{}`` when it has none or it is not a JSON object):
    the files' URLs under ``resultUrls``, and whatever else a model answers (``character_id``...)."""
    return _json_object(info.raw.get("resultJson")) or {}


def _result_urls(result_json: object) -> tuple[str, ...]:
    # resultJson is a JSON *string* holding {"resultUrls": [...]} (reference §2).
    decoded = _json_object(result_json)
    urls = decoded.get("resultUrls") if decoded else None
    if not isinstance(urls, list):
        return ()
    return tuple(u for u in urls if isinstance(u, str) and u)


@functools.cache
def _record_keys() -> dict[str, str]:
    """The JSON name of each field of the generated ``TaskRecord`` (``task_id`` -> ``taskId``), as its
    ``to_dict`` writes them: the one place the record's wire names come from."""
    import attrs

    from kie_api.models.task_record import TaskRecord

    names = [f.name for f in attrs.fields(TaskRecord) if f.init]
    wire = TaskRecord(**{name: name for name in names}).to_dict()  # type: ignore[arg-type]
    return {name: key for key, name in wire.items()}


def _task_info(record: Mapping[str, Any], task_id: str | None) -> TaskInfo:
    key = _record_keys()
    get = record.get
    raw_state = _str(get(key["state"]))
    # Not fields of the spec's TaskRecord: what some models' records add (the generated model would keep
    # them in ``additional_properties``).
    credits_value = get("creditsConsumed", get("consumeCredits"))
    credits = (
        float(credits_value)
        if isinstance(credits_value, (int, float)) and not isinstance(credits_value, bool)
        else None
    )
    return TaskInfo(
        task_id=_str(get(key["task_id"])) or task_id or "",
        state=TaskState.parse(raw_state),
        raw_state=raw_state,
        model=_str(get(key["model"])),
        result_urls=_result_urls(get(key["result_json"])),
        fail_code=_str(get(key["fail_code"])),
        fail_msg=_str(get(key["fail_msg"])),
        cost_time_ms=_int(get(key["cost_time"])),
        credits_consumed=credits,
        created_at=_time(get(key["create_time"])),
        updated_at=_time(get(key["update_time"])),
        completed_at=_time(get(key["complete_time"])),
        param=_json_object(get(key["param"])),
        raw=dict(record),
    )


def parse_upload(response: httpx.Response, operation: Operation) -> UploadedFile:
    """An upload reply as ``UploadedFile``."""
    return _boundary(operation)(_parse_upload)(response, operation)


def _parse_upload(response: httpx.Response, operation: Operation) -> UploadedFile:
    from kie_api.models.file_upload_response import FileUploadResponse
    from kie_api.models.file_upload_result import FileUploadResult as UploadedFileRecord

    data = FileUploadResponse.from_dict(read_envelope(response, operation)).data
    url = _str(data.download_url) if isinstance(data, UploadedFileRecord) else None
    if not isinstance(data, UploadedFileRecord) or not url:
        raise _unexpected("upload reply has no data.downloadUrl", operation, response)
    return UploadedFile(
        url=url,
        file_name=_str(data.file_name),
        file_path=_str(data.file_path),
        size=_int(data.file_size),
        mime_type=_str(data.mime_type),
        uploaded_at=_str(data.uploaded_at),
    )


@_boundary("get-account-credits")
def parse_credits(response: httpx.Response) -> float:
    """Remaining credits (an integer in the docs; kept as a number)."""
    from kie_api.models.get_account_credits_response_200 import GetAccountCreditsResponse200

    operation = "get-account-credits"
    data = GetAccountCreditsResponse200.from_dict(read_envelope(response, operation)).data
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise _unexpected("credit reply has no numeric data", operation, response)
    return data


@_boundary("get-download-url")
def parse_download_url(response: httpx.Response) -> str:
    """The temporary direct-download URL."""
    from kie_api.models.get_download_url_response_200 import GetDownloadUrlResponse200

    operation = "get-download-url"
    data = GetDownloadUrlResponse200.from_dict(read_envelope(response, operation)).data
    if not isinstance(data, str) or not data:
        raise _unexpected("download-url reply has no URL in data", operation, response)
    return data


# ------------------------------------------------------------------------------ every market model
# The models of the generated catalog, for code that serves or checks any of them (the emulator): what
# each one's ``input`` accepts comes from ``kie_api.models_catalog``, written by scripts/regenerate.


def model_specs() -> Mapping[str, ModelSpec]:
    """Every market model of the generated catalog, by its ``model`` id (the seed's model first).

    Returns:
        ``kie_api.models_catalog.MODELS``: per model, each ``input`` field's type, enum, default,
        required flag and limits, and its image field.
    """
    from kie_api.models_catalog import MODELS

    return MODELS


def _generated_class(path: str) -> Any:
    """The generated class at ``path`` (``module:Class``, as the catalog names it)."""
    import importlib

    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
