"""The upload and file hosts: the three uploads (reference §3), the file store, download links (§4) and
the file host that serves uploads and task results.

The file store holds uploaded files by key (``kieai/market/<uploadPath>/<fileName>``, like kie.ai's upload
URLs) and each result file once rendered; nothing here makes a network request: a URL upload "downloads"
only what this file host serves.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx

from .._inputs import sniff_image_type
from ._market import InputFile
from ._media import sniff_media_type
from ._replies import NO_ACCESS, authorized, error_reply, json_reply, ok_reply, plain_reply
from ._results import RESULT_PREFIX, RESULT_TYPES, composed_from, render, result_task_id
from ._state import Config, State

__all__ = ["UPLOAD_PREFIX", "FileStore", "StoredFile"]

UPLOAD_PREFIX = "kieai/market/"
"""kie.ai's upload URLs look like ``.../kieai/market/<uploadPath>/<fileName>``."""
_DOWNLOAD_LINK_SECONDS = 20 * 60  # reference §4: direct-download links last about 20 minutes


def _sniff(content: bytes) -> str | None:
    # The upload host stores any file; it reports GIF too, beyond the three image types tasks accept, and
    # video and audio by their magic bytes (media fields take them).
    sniffed = sniff_image_type(content[:16])
    if sniffed is not None:
        return sniffed[0]
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return sniff_media_type(content)


@dataclass
class StoredFile:
    """One file the file host serves."""

    content: bytes
    mime_type: str


class FileStore:
    """Uploaded files, download links and rendered results, with the handlers of the upload host, the
    download-url endpoint and the file host. Shares the emulator's lock (``state.lock``)."""

    def __init__(self, state: State, config: Config) -> None:
        self._state = state
        self._config = config
        self._files: dict[str, StoredFile] = {}
        self._results: dict[str, StoredFile] = {}
        self._links: dict[str, tuple[str, float]] = {}

    # -- lookups ------------------------------------------------------------------------------------

    def key_of(self, url: str) -> str | None:
        """The file-store key of ``url`` if it points at this emulator's file host."""
        parts = urlsplit(url)
        with self._state.lock:
            if self._state.known.get(parts.netloc) != "files":
                return None
            key = parts.path.lstrip("/")
            if key.startswith("d/"):
                token = parse_qs(parts.query).get("token", [""])[0]
                link = self._links.get(token)
                return link[0] if link else None
        return unquote(key)

    def file(self, key: str) -> StoredFile | None:
        """The file at ``key``, rendering a finished task's result on first use."""
        state = self._state
        if not key.startswith(RESULT_PREFIX):
            with state.lock:
                return self._files.get(key)
        with state.lock:
            task_id = result_task_id(key, state.tasks)
            task = state.tasks.get(task_id) if task_id is not None else None
            if task is None or task.state(self._config.clock()) != "success":
                return None
            cached = self._results.get(task.task_id)
            if cached is not None:
                return cached
            inputs = [(url, self.input_bytes(url)) for url in composed_from(task)]
        # Rendered outside the lock: Pillow work must not stall other requests.
        content, mime = render(task, inputs, self._config.max_image_side)
        with state.lock:
            return self._results.setdefault(task.task_id, StoredFile(content, mime))

    def input_file(self, url: str) -> InputFile:
        """What this emulator holds at an input URL (createTask checks media fields with it)."""
        state = self._state
        with state.lock:
            if state.known.get(urlsplit(url).netloc) != "files":
                return InputFile(hosted=False)
            key = self.key_of(url)
            if key is not None and key.startswith(RESULT_PREFIX):
                task_id = result_task_id(key, state.tasks)
                task = state.tasks.get(task_id) if task_id is not None else None
                if task is None or task.state(self._config.clock()) != "success":
                    return InputFile(True)
                # A result not downloaded yet has no size; its type is its model's.
                stored = self._results.get(task.task_id)
                if stored is None:
                    return InputFile(True, self._result_mime(key), 0)
                return InputFile(True, stored.mime_type, len(stored.content))
            stored = self._files.get(key) if key is not None else None
            if stored is None:
                return InputFile(hosted=True)
            return InputFile(True, stored.mime_type, len(stored.content))

    @staticmethod
    def _result_mime(key: str) -> str:
        return RESULT_TYPES.get(key.rpartition(".")[2], "application/octet-stream")

    def input_bytes(self, url: str) -> bytes | None:
        """The bytes this emulator holds at ``url`` (``None``: a foreign URL, never fetched)."""
        key = self.key_of(url)
        if key is None:
            return None
        with self._state.lock:
            if key.startswith(RESULT_PREFIX):
                task_id = result_task_id(key, self._state.tasks)
                stored = self._results.get(task_id) if task_id is not None else None
            else:
                stored = self._files.get(key)
        return stored.content if stored else None

    # -- API host: download-url (reference §4) ------------------------------------------------------

    def download_url(self, request: httpx.Request) -> httpx.Response:
        """``POST /api/v1/common/download-url``: a 20-minute link to a file this emulator generated."""
        config = self._config
        if not authorized(request, config.api_key):
            return error_reply(config, 401, NO_ACCESS)
        try:
            body = json.loads(request.content)
        except ValueError:
            return error_reply(config, 422, "request body must be JSON")
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url:
            return error_reply(config, 422, "url is required")
        key = self.key_of(url)
        if key is None or self.file(key) is None:
            # Reference §4: only files kie.ai generated; an external URL gets code 422.
            return error_reply(config, 422, "Only files generated by this service can be downloaded")
        token = secrets.token_urlsafe(16)
        with self._state.lock:
            self._links[token] = (key, config.clock() + _DOWNLOAD_LINK_SECONDS)
            name = quote(key.rsplit("/", 1)[-1])
            return ok_reply(f"{self._state.urls['files']}/d/{name}?token={token}")

    # -- upload host (reference §3) -----------------------------------------------------------------

    def _upload_reply(
        self, upload_path: object, file_name: object, content: bytes, mime: str | None
    ) -> httpx.Response:
        config = self._config
        if not isinstance(upload_path, str) or not upload_path.strip("/"):
            return error_reply(config, 400, "uploadPath is required", upload=True)
        if file_name is not None and (not isinstance(file_name, str) or not file_name.strip("/")):
            return error_reply(config, 400, "fileName must be a non-empty string", upload=True)
        mime = _sniff(content) or mime or (mimetypes.guess_type(file_name)[0] if file_name else None)
        mime = mime or "application/octet-stream"
        if file_name is None:
            # Without fileName kie.ai generates a random one (reference §3).
            file_name = secrets.token_hex(8) + (mimetypes.guess_extension(mime) or "")
        path = f"{upload_path.strip('/')}/{file_name.strip('/')}"
        with self._state.lock:
            now = config.clock()
            # A same fileName overwrites the earlier file (reference §3).
            self._files[UPLOAD_PREFIX + path] = StoredFile(content, mime)
            stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            url = f"{self._state.urls['files']}/{UPLOAD_PREFIX}{quote(path)}"
        data = {
            "fileName": file_name.strip("/"),
            "filePath": path,
            "downloadUrl": url,
            "fileSize": len(content),
            "mimeType": mime,
            "uploadedAt": stamp,
        }
        return json_reply(
            200, {"success": True, "code": 200, "msg": "File uploaded successfully", "data": data}
        )

    def upload_stream(self, request: httpx.Request) -> httpx.Response:
        """``POST /api/file-stream-upload``: a multipart upload."""
        config = self._config
        if not authorized(request, config.api_key):
            return error_reply(config, 401, NO_ACCESS, upload=True)
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            return error_reply(config, 400, "expected multipart/form-data", upload=True)
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + request.content
        )
        fields: dict[str, tuple[bytes, str | None]] = {}
        parts: Iterable[Message] = message.get_payload() if message.is_multipart() else []  # type: ignore[assignment]
        for part in parts:
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = (payload, part.get_content_type() if part.get("content-type") else None)
        if "file" not in fields:
            return error_reply(config, 400, "file is required", upload=True)
        content, mime = fields["file"]
        upload_path = fields["uploadPath"][0].decode("utf-8", "replace") if "uploadPath" in fields else None
        file_name = fields["fileName"][0].decode("utf-8", "replace") if "fileName" in fields else None
        return self._upload_reply(upload_path, file_name, content, mime)

    def upload_base64(self, request: httpx.Request) -> httpx.Response:
        """``POST /api/file-base64-upload``: plain base64 or a data URL."""
        config = self._config
        if not authorized(request, config.api_key):
            return error_reply(config, 401, NO_ACCESS, upload=True)
        body = _json_body(request)
        data = body.get("base64Data") if body else None
        if body is None or not isinstance(data, str):
            return error_reply(config, 400, "base64Data is required", upload=True)
        mime: str | None = None
        if data.startswith("data:"):
            # Reference §3: plain base64 or a data URL.
            header, _, data = data.partition(",")
            mime = header[5:].split(";", 1)[0] or None
        try:
            content = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return error_reply(config, 400, "base64Data is not valid base64", upload=True)
        return self._upload_reply(body.get("uploadPath"), body.get("fileName"), content, mime)

    def upload_url(self, request: httpx.Request) -> httpx.Response:
        """``POST /api/file-url-upload``: copies a file this file host serves."""
        config = self._config
        if not authorized(request, config.api_key):
            return error_reply(config, 401, NO_ACCESS, upload=True)
        body = _json_body(request)
        url = body.get("fileUrl") if body else None
        if body is None or not isinstance(url, str) or not url:
            return error_reply(config, 400, "fileUrl is required", upload=True)
        # The emulator never makes network requests: it can "download" only what its own file host
        # serves. Anything else fails like a download the server could not complete: code 500 (one of
        # the documented upload errors, reference §3; the exact message is not documented).
        key = self.key_of(url)
        stored = self.file(key) if key is not None else None
        if stored is None:
            return error_reply(config, 500, f"Failed to download file from URL: {url}", upload=True)
        file_name = body.get("fileName")
        if file_name is None:
            file_name = key.rsplit("/", 1)[-1] if key else None
        return self._upload_reply(body.get("uploadPath"), file_name, stored.content, stored.mime_type)

    # -- file host ----------------------------------------------------------------------------------

    def serve_file(self, request: httpx.Request) -> httpx.Response:
        """``GET``/``HEAD`` on the file host: an upload, a result, or a download link's file."""
        key = request.url.path.lstrip("/")  # httpx's URL.path is already percent-decoded
        if key.startswith("d/"):
            with self._state.lock:
                link = self._links.get(request.url.params.get("token", ""))
                now = self._config.clock()
            if link is None:
                return plain_reply(404, "Not Found")
            if link[1] < now:
                return plain_reply(403, "Link expired")
            key = link[0]
        stored = self.file(key)
        if stored is None:
            return plain_reply(404, "Not Found")
        content = b"" if request.method == "HEAD" else stored.content
        return httpx.Response(200, headers={"Content-Type": stored.mime_type}, content=content)


def _json_body(request: httpx.Request) -> dict[str, Any] | None:
    try:
        body = json.loads(request.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
