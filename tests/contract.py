"""Contract checks: validate real ``httpx`` requests and responses against the published kie.ai spec.

The documents are the ones in ``openapi/``, merged by ``scripts/regenerate`` into
``generated/openapi.merged.json`` *before* normalisation: the contract is what kie.ai publishes, not
the loosened form the generator reads. Requests are matched to the server their operation declares
(the upload API lives on its own host), whatever host they were actually sent to (an emulator).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

ROOT = Path(__file__).resolve().parent.parent
MERGED_SPEC = ROOT / "generated" / "openapi.merged.json"


@cache
def merged_spec() -> dict[str, Any]:
    """The merged, un-normalised spec as a dict."""
    return json.loads(MERGED_SPEC.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def _openapi() -> OpenAPI:
    return OpenAPI.from_dict(merged_spec())


def _server_for(path: str, method: str) -> str:
    spec = merged_spec()
    operation = spec["paths"].get(path, {}).get(method, {})
    servers = operation.get("servers") or spec["servers"]
    return str(servers[0]["url"]).rstrip("/")


class _Request:
    """openapi-core's Request protocol over an ``httpx.Request``."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        request.read()
        parts = urlsplit(str(request.url))
        self._path = parts.path
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(_pairs(parts.query))),
            header=Headers(list(request.headers.multi_items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return _server_for(self._path, self.method)

    @property
    def path(self) -> str:
        return self._path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.content or None

    @property
    def content_type(self) -> str:
        return self._request.headers.get("content-type", "").lower()


class _Response:
    """openapi-core's Response protocol over an ``httpx.Response``."""

    def __init__(self, response: httpx.Response) -> None:
        response.read()
        self._response = response

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def content_type(self) -> str:
        return self._response.headers.get("content-type", "").lower()

    @property
    def headers(self) -> Headers:
        return Headers(list(self._response.headers.multi_items()))

    @property
    def data(self) -> bytes | None:
        return self._response.content or None


def _pairs(query: str) -> list[tuple[str, str]]:
    return [(k, v) for k, values in parse_qs(query, keep_blank_values=True).items() for v in values]


class ContractViolation(AssertionError):
    """A request or response that does not match the published spec."""


def check_request(request: httpx.Request) -> None:
    """Raise ``ContractViolation`` if ``request`` does not match the spec."""
    try:
        _openapi().validate_request(_Request(request))
    except Exception as exc:
        raise ContractViolation(f"{request.method} {request.url.path}: {_explain(exc)}") from exc


def check_response(request: httpx.Request, response: httpx.Response) -> None:
    """Raise ``ContractViolation`` if ``response`` (to ``request``) does not match the spec."""
    try:
        _openapi().validate_response(_Request(request), _Response(response))
    except Exception as exc:
        raise ContractViolation(
            f"reply to {request.method} {request.url.path} ({response.status_code}): {_explain(exc)}"
        ) from exc


def _explain(exc: BaseException) -> str:
    details = [str(exc)]
    for sub in getattr(exc, "schema_errors", None) or []:
        details.append(f"  - {getattr(sub, 'message', sub)}")
    cause = exc.__cause__
    if cause is not None and cause is not exc:
        details.append(f"  caused by: {cause}")
        for sub in getattr(cause, "schema_errors", None) or []:
            details.append(f"  - {getattr(sub, 'message', sub)}")
    return "\n".join(details)
