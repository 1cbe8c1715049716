"""The one error the generator raises: a problem in the documents, the patch table or the output."""

from __future__ import annotations

__all__ = ["RegenerateError"]


class RegenerateError(Exception):
    """A problem in the documents or the patch table; the message says which."""
