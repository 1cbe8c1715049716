"""The modules this package writes itself into ``kie_api`` (beside openapi-python-client's), each from
its Jinja template in ``templates/``: ``models_catalog.py``, ``spec_constants.py`` and
``model_methods.py``.

Here the catalog becomes what the templates lay out (type annotations, the ``TypedDict``s, the
overloads); the templates hold every line of Python. ``generate`` formats the result with the pinned
ruff, as the generator's own output.
"""

from __future__ import annotations

import json
import keyword
from dataclasses import dataclass, field
from typing import Any

import jinja2

from .catalog import Entry, Field
from .errors import RegenerateError
from .settings import CODEGEN

__all__ = [
    "DEFAULT_EDIT_MODEL",
    "DEFAULT_GENERATE_MODEL",
    "catalog_module",
    "methods_module",
    "py_literal",
    "spec_constants_module",
]

# The model ``edit``/``create_task`` use when none is named: the seed's (facade/kie_gpt_image/_client.py
# documents it as the default; README "Choosing a model").
DEFAULT_EDIT_MODEL = "gpt-image/1.5-image-to-image"
# The model ``generate`` uses when none is named: the text-to-image sibling of the seed (README
# "Choosing a model"). When no document describes it, ``generate`` simply has no default model.
DEFAULT_GENERATE_MODEL = "gpt-image/1.5-text-to-image"

_SHARED_PARAMETERS = frozenset(
    {
        "self",
        "images",
        "prompt",
        "model",
        "callback_url",
        "wait",
        "timeout",
        "on_progress",
        "on_upload_progress",
    }
)
"""The parameters of the facade's ``edit``/``create_task``/``generate`` besides a model's options."""

_JSON_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


def py_literal(value: Any) -> str:
    """A Python literal for a JSON value (tuples for arrays: the catalog is immutable)."""
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(py_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# Python source, not HTML: nothing is escaped; an undefined name in a template is an error, never "".
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(CODEGEN / "templates"),
    autoescape=False,  # noqa: S701
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["py"] = py_literal
_ENV.filters["json"] = _json


def _render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)


@dataclass(frozen=True)
class TypedDictSource:
    """A ``TypedDict`` to write (``templates/_typeddict.jinja``)."""

    name: str
    fields: dict[str, str]
    """Field name -> annotation, in order."""
    doc: str
    total: bool = True

    @property
    def class_syntax(self) -> bool:
        """Class syntax when every field name is an identifier, else the functional form."""
        return all(n.isidentifier() and not keyword.iskeyword(n) for n in self.fields)


@dataclass(frozen=True)
class Overload:
    """One signature of a call ``Protocol``'s ``__call__``."""

    parameters: list[str]
    returns: str


@dataclass(frozen=True)
class CallProtocol:
    """A call ``Protocol`` of ``model_methods`` with its overloads (none: it refuses every call)."""

    name: str
    doc: str
    overloads: list[Overload] = field(default_factory=list)


def _annotation(spec: Field) -> str:
    # Literal takes str, int and bool values only (PEP 586); any other enum keeps its base type.
    enum = spec["enum"]
    if enum and all(isinstance(v, (str, int, bool)) for v in enum):
        return "Literal[" + ", ".join(_json(v) for v in enum) + "]"
    if spec["type"] == "array":
        return f"list[{_JSON_TYPES.get(spec['items_type'] or '', 'Any')}]"
    return _JSON_TYPES.get(spec["type"], "Any")


def _option_annotations(entry: Entry) -> dict[str, str]:
    """Name → annotation of a model's keyword options (``Required`` only without a default)."""
    return {
        f["name"]: f"Required[{_annotation(f)}]" if f["required"] and not f["has_default"] else _annotation(f)
        for f in entry["fields"]
        if f["name"] not in ("prompt", entry["image_field"])
    }


@dataclass(frozen=True)
class _CatalogModel:
    entry: Entry
    input: TypedDictSource
    options: TypedDictSource


def catalog_module(catalog: list[Entry]) -> str:
    """Source of ``kie_api/models_catalog.py`` for the entries of ``model_catalog``."""
    models = [
        _CatalogModel(
            entry=entry,
            input=TypedDictSource(
                f"{entry['type_stem']}Input",
                {
                    f["name"]: _annotation(f) if f["required"] else f"NotRequired[{_annotation(f)}]"
                    for f in entry["fields"]
                },
                f"The ``input`` of {entry['model']} ({entry['operation_id']}).",
            ),
            options=TypedDictSource(
                f"{entry['type_stem']}Options",
                _option_annotations(entry),
                f"Keyword options of {entry['model']}: its ``input`` but the prompt and images.",
                total=False,
            ),
        )
        for entry in catalog
    ]
    names = sorted(name for m in models for name in (m.input.name, m.options.name))
    return _render("models_catalog.py.jinja", names=names, entries=models)


def spec_constants_module(catalog: list[Entry]) -> str:
    """Source of ``kie_api/spec_constants.py``: the seed model's input limits and defaults.

    The names the facade has always read (facade/kie_gpt_image/_api.py); the same values as the seed
    model's ``models_catalog`` entry. The script fails rather than guessing when the seed stops stating
    one of them (the size and types exist only in the prose of ``input_urls``).
    """
    seed = next((e for e in catalog if e["model"] == "gpt-image/1.5-image-to-image"), None)
    if seed is None or seed["image_field"] is None:
        raise RegenerateError(
            "no gpt-image/1.5-image-to-image operation with an image field in the documents"
        )
    fields = {f["name"]: f for f in seed["fields"]}
    image = fields[seed["image_field"]]
    defaults = {}
    for name in ("aspect_ratio", "quality"):
        spec = fields.get(name)
        if spec is None or not spec["has_default"] or spec["default"] not in (spec["enum"] or ()):
            raise RegenerateError(f"input.{name}: no default among its enum values")
        defaults[name] = spec["default"]
    if image["max_items"] is None:
        raise RegenerateError(f"input.{image['name']}: no maxItems to take the input limit from")
    if image["max_file_bytes"] is None or image["mime_types"] is None:
        raise RegenerateError(
            f"input.{image['name']}: description no longer states 'Accepted types' and 'Max size'"
        )
    return _render(
        "spec_constants.py.jinja",
        max_images=int(image["max_items"]),
        max_bytes=image["max_file_bytes"],
        mime_types=image["mime_types"],
        aspect_ratio=defaults["aspect_ratio"],
        quality=defaults["quality"],
    )


def methods_module(catalog: list[Entry]) -> str:
    """Source of ``kie_api/model_methods.py``: call ``Protocol``s with one overload per model.

    ``edit`` and ``create_task`` cover the models with an image field, ``generate`` those without; the
    default model's ``model`` parameter has a default (``= ...``), every other model must be named.
    """
    image_models = [e for e in catalog if e["image_field"]]
    text_models = [e for e in catalog if not e["image_field"]]
    default_edit = DEFAULT_EDIT_MODEL if any(e["model"] == DEFAULT_EDIT_MODEL for e in image_models) else None
    default_generate = (
        DEFAULT_GENERATE_MODEL if any(e["model"] == DEFAULT_GENERATE_MODEL for e in text_models) else None
    )

    def ordered(entries: list[Entry], default: str | None) -> list[Entry]:
        return sorted(entries, key=lambda e: e["model"] != default)  # the default's overloads first

    def model_param(entry: Entry, default: str | None) -> str:
        given = " = ..." if entry["model"] == default else ""
        return f"model: Literal[{_json(entry['model'])}]{given}"

    # An option named like one of the methods' own parameters cannot be passed as a keyword (the
    # parameter takes it) and a TypedDict overlapping them is refused by type checkers: such a model's
    # signatures unpack its options without those names.
    clashing: dict[str, dict[str, str]] = {}
    for entry in catalog:
        fields = _option_annotations(entry)
        if set(fields) & _SHARED_PARAMETERS:
            clashing[entry["type_stem"]] = {n: t for n, t in fields.items() if n not in _SHARED_PARAMETERS}

    def options(entry: Entry) -> str:
        stem = entry["type_stem"]
        name = f"_{stem}CallOptions" if stem in clashing else f"{stem}Options"
        return f"**options: Unpack[{name}]"

    shared = ["callback_url: str | None = ..."]
    waits = (("wait: Literal[True] = ...", "ResultT"), ("wait: Literal[False]", "TaskT"))
    tail = ["timeout: float | None = ...", "on_progress: ProgressT | None = ..."]
    uploads = ["on_upload_progress: UploadProgressT | None = ..."]
    edit = CallProtocol(
        "EditCall(Protocol[ImagesT, ProgressT, UploadProgressT, ResultT, TaskT])",
        "``edit(images, prompt, *, model=..., **options)``: one overload per model taking images.",
    )
    create = CallProtocol(
        "CreateTaskCall(Protocol[ImagesT, UploadProgressT, TaskT])",
        "``create_task(images, prompt, *, model=..., **options)``: one overload per model taking images.",
    )
    generate = CallProtocol(
        "GenerateCall(Protocol[ProgressT, ResultT, TaskT])",
        "``generate(prompt, *, model=..., **options)``: one overload per model without input images.",
    )
    for entry in ordered(image_models, default_edit):
        head = ["self", "images: ImagesT", "prompt: str", "*", model_param(entry, default_edit), *shared]
        for wait, returns in waits:
            edit.overloads.append(Overload([*head, wait, *tail, *uploads, options(entry)], returns))
        # create_task's ``timeout`` is the create step's deadline (it does not wait).
        create.overloads.append(
            Overload([*head, "timeout: float | None = ...", *uploads, options(entry)], "TaskT")
        )
    for entry in ordered(text_models, default_generate):
        head = ["self", "prompt: str", "*", model_param(entry, default_generate)]
        for wait, returns in waits:
            generate.overloads.append(Overload([*head, *shared, wait, *tail, options(entry)], returns))
    typing_names = ["Literal", "Protocol", "TypeVar", "Unpack", "overload"]
    if clashing:
        required = any("Required[" in t for fields in clashing.values() for t in fields.values())
        typing_names = sorted({*typing_names, "TypedDict", *(["Required"] if required else [])})
    return _render(
        "model_methods.py.jinja",
        typing_names=typing_names,
        stems=sorted(e["type_stem"] for e in catalog),
        default_edit=default_edit,
        default_generate=default_generate,
        call_options=[
            TypedDictSource(
                f"_{stem}CallOptions",
                fields,
                f"{stem}Options without the names of the methods' own parameters.",
                total=False,
            )
            for stem, fields in clashing.items()
        ],
        protocols=[edit, create, generate],
    )
