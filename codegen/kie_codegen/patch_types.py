"""The kinds of entry of the patch table (``patches.py``): what each does and when it is an error.

Every entry carries ``why``, the evidence for it; an entry that no longer matches what it is meant to
change is an error (``RegenerateError``), never a silent no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "RULES",
    "SCHEMA_RULES",
    "DeriveOperationIds",
    "DocumentPatch",
    "DropNumberEnums",
    "DropOperationKey",
    "DropSchemaTitles",
    "DropSecurityKey",
    "Hoist",
    "Loosen",
    "Patch",
    "Replace",
    "Rewrite",
    "SetAsideOtherApis",
    "Supersede",
]


@dataclass(frozen=True)
class Replace:
    """Replace the value at ``pointer`` (``MISSING`` = absent) after checking it is ``before``.

    ``documents`` (document stage only) is a file-name glob: the patch applies to every matching
    document whose value is ``before`` and must apply to at least one.
    """

    pointer: str
    before: Any
    after: Any
    why: str
    documents: str = ""


@dataclass(frozen=True)
class DropSecurityKey:
    """Delete ``key`` from every security requirement object (document and operations) of the
    documents matching ``documents``; must delete at least one."""

    key: str
    why: str
    documents: str = "*"


@dataclass(frozen=True)
class Rewrite:
    """A rewrite of every Schema Object of the documents matching ``documents``: ``rule`` is one of
    ``SCHEMA_RULES``. It must change at least one schema."""

    rule: str
    why: str
    documents: str = "*"


SCHEMA_RULES = ("examples-to-example", "null-type-to-nullable", "strip-property-names")


@dataclass(frozen=True)
class SetAsideOtherApis:
    """Set aside every document with an operation that is neither a market task (``POST`` of
    ``task_path``) nor one of ``endpoints`` (``METHOD path``, the kie.ai endpoints the client calls),
    printing one line per document. Applies to every document; may set aside none."""

    task_path: str
    endpoints: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class DeriveOperationIds:
    """Give every market model operation without an ``operationId`` one derived from its model id
    (``wan/2-7-image`` -> ``wan-2-7-image``). Applies to every document; may derive none."""

    why: str


@dataclass(frozen=True)
class Supersede:
    """Set ``document`` aside in favour of ``by``: both must describe the same market model.

    Never silently: every difference of the model's ``input`` between the two (a field, its type, enum,
    default, limits, required flag; not examples or descriptions) stops the run unless ``acknowledged``
    lists it exactly (as the error states it); an acknowledged difference that is gone is an error too."""

    document: str
    by: str
    why: str
    acknowledged: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hoist:
    """Move the inline object schema at ``pointer`` to ``#/components/schemas/<name>`` and leave a
    reference behind: nullable (``nullable`` + ``allOf: [$ref]`` keeps a clean class name and makes the
    generated parser accept ``null``, reference §7) unless ``nullable`` is false. Hoisting several equal
    schemas to one name shares one class."""

    pointer: str
    name: str
    why: str
    nullable: bool = True


@dataclass(frozen=True)
class Loosen:
    """A rule applied to every response schema of every operation (and the components they reference),
    so a new document needs no new entry. ``rule`` is one of ``RULES``; ``key`` the property or format it
    concerns. It must change at least one place."""

    rule: str
    key: str
    why: str


@dataclass(frozen=True)
class DropNumberEnums:
    """Delete the ``enum`` of every schema whose values are numbers that are not all integers (``0, 0.5,
    1``), in every document; may delete none. The catalog (read before this stage) keeps the values."""

    why: str


@dataclass(frozen=True)
class DropOperationKey:
    """Delete ``key`` from every operation; must delete at least one."""

    key: str
    why: str


@dataclass(frozen=True)
class DropSchemaTitles:
    """Delete the ``title`` of every component schema; must delete at least one."""

    why: str


RULES = ("drop-enum", "drop-required", "nullable", "drop-format")


DocumentPatch = Replace | DropSecurityKey | Rewrite | Supersede | SetAsideOtherApis | DeriveOperationIds
"""An entry of the document stage (before the merge; the contract tests see its effect too)."""

Patch = Replace | Hoist | Loosen | DropOperationKey | DropSchemaTitles | DropNumberEnums
"""An entry of the normalisation stage (the merged document, for the generator only)."""
