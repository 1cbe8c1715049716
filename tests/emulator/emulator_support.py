"""Helpers for the emulator tests (kept out of conftest.py so that ``import`` finds them unambiguously)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import contract
import httpx

from kie_gpt_image.emulator import Emulator

MODEL = "gpt-image/1.5-image-to-image"

CheckExchange = Callable[[httpx.Request, httpx.Response | None], None]


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1_765_968_156.336) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def create_body(
    input_urls: list[str] | None = None,
    prompt: str = "Make the sky purple",
    aspect_ratio: str = "1:1",
    **extra: Any,
) -> dict[str, Any]:
    """A spec-valid createTask body."""
    return {
        "model": MODEL,
        "input": {
            "input_urls": input_urls if input_urls is not None else ["https://example.com/photo.png"],
            "prompt": prompt,
            "aspect_ratio": aspect_ratio,
            "quality": "medium",
        },
        **extra,
    }


def png_bytes(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (64, 48)) -> bytes:
    """A small real PNG."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def png_data_url(content: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(content).decode()


def make_client(emu: Emulator, key: str | None = None) -> httpx.Client:
    """A client on the emulator's in-process transport, authenticated with ``key`` (default: its key)."""
    headers = {"Authorization": f"Bearer {key if key is not None else emu.api_key}"}
    return httpx.Client(transport=emu.transport, headers=headers)


def check_recorded_exchanges(emu: Emulator) -> int:
    """Validate every exchange ``emu`` recorded without a fault against the published spec; return how many.

    The spec's ``data`` schemas are not nullable, so the documented ``"data": null`` of error envelopes is
    checked by validating the reply without that key (everything else must still conform). Only replies are
    checked here: some tests send spec-invalid requests on purpose.
    """
    checked = 0
    for exchange in emu.exchanges:
        if exchange.fault is not None or exchange.endpoint in ("files", "unknown"):
            continue
        response = exchange.response
        body = response.json()
        if isinstance(body, dict) and body.get("data", 0) is None and body.get("code") != 200:
            body = {k: v for k, v in body.items() if k != "data"}
            response = httpx.Response(
                response.status_code, headers={"Content-Type": "application/json"}, json=body
            )
        contract.check_response(exchange.request, response)
        checked += 1
    return checked
