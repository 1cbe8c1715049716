"""The generator of ``generated/`` (``kie_api``) from the kie.ai OpenAPI documents in ``openapi/``.

Run as ``scripts/regenerate [--check]`` (a launcher that calls ``main``); it is not part of the wheel.
``openapi/`` holds kie.ai's documents as published (see the README's "Development" section). Steps, all
offline and deterministic, one module each:

1. ``documents``: read every ``openapi/*.json``; apply the document stage of the patch table
   (``patches.DOCUMENT_PATCHES``: fixes a published document needs before it can be merged or trusted,
   each citing its evidence; other APIs set aside; a page superseded by another after comparing them);
2. ``merge``: merge them: components that are equal under one name are merged, differing ones are
   namespaced (the seed keeps the plain name, then the other endpoints, then the market models, each in
   file-name order); every *market model* operation (a request body whose ``model`` names one model)
   gets its own virtual path ``<path>#<operationId>``, so that all models may share
   ``POST /api/v1/jobs/createTask``; the contract view (the virtual paths folded back into one
   operation whose body is a ``oneOf`` of the models' bodies) goes to ``generated/openapi.merged.json``
   (contract tests validate against it);
3. ``normalise``: apply the normalisation stage (``patches.PATCHES``; an entry that no longer matches is
   an error, never a silent no-op) and write ``generated/openapi.normalised.json``;
4. ``generate``: run the pinned ``openapi-python-client`` with ``scripts/openapi-python-client.yaml`` and
   the templates in ``scripts/templates`` into a temporary directory; ``catalog`` reads each market
   model's fields, media fields and output kind, ``emit`` writes ``models_catalog.py``,
   ``spec_constants.py`` and ``model_methods.py`` from the Jinja templates in ``templates/``; every file
   is formatted and headed with the do-not-edit line;
5. ``cli``: swap ``generated/kie_api`` wholesale, or with ``--check`` compare it with a fresh run and exit
   1 with a summary if it differs by a single byte.

A further market document of any kie.ai model dropped into ``openapi/`` needs no edit here: it gets its own
endpoint module, body and input models, ``TypedDict`` and catalog entry.
"""

from __future__ import annotations

from .cli import main
from .errors import RegenerateError

__all__ = ["RegenerateError", "main"]
