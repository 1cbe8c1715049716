"""The key never leaks; the public surface is what __all__ says; importing is light."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fake_kie import KEY, Harness, envelope, image_bytes

import kie_gpt_image as kie


def test_key_absent_from_reprs_logs_and_errors(
    harness: Harness, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    harness.fake.script(
        "record", httpx.Response(502, content=b"<html>x</html>"), envelope(401, None, msg="bad key")
    )
    texts = [repr(harness.client), str(vars(harness.client))]
    with pytest.raises(kie.AuthenticationError) as caught:
        harness("get_task", "task_1")
    texts += [str(caught.value), repr(caught.value), repr(caught.value.__dict__)]
    result = harness("edit", [image_bytes("PNG")], "p")
    texts += [repr(result), str(result)]
    harness.run(result.save(tmp_path))
    texts += [r.getMessage() for r in caplog.records]
    assert any("get-task-details" in t or "recordInfo" in t for t in texts)
    for text in texts:
        assert KEY not in text


def test_logs_name_operations_and_task_ids(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kie_gpt_image")
    harness("edit", ["https://example.com/a.png"], "p")
    messages = [r.getMessage() for r in caplog.records if r.name == "kie_gpt_image"]
    assert "created task task_1" in messages
    assert any("gpt-image-1-5-image-to-image" in m for m in messages)


def test_all_is_sorted_and_complete() -> None:
    assert kie.__all__ == sorted(kie.__all__, key=lambda n: (not n.isupper(), n.startswith("_"), n))
    # Submodules (emulator, webhooks) become attributes once imported elsewhere; they are not exports.
    public = {n for n in dir(kie) if not n.startswith("_") and not isinstance(getattr(kie, n), ModuleType)}
    assert public == set(kie.__all__) - {"__version__"}
    for name in kie.__all__:
        obj = getattr(kie, name)
        if isinstance(obj, type):
            assert obj.__module__ == "kie_gpt_image", name
            assert obj.__doc__, name


def test_sync_and_async_clients_have_the_same_methods() -> None:
    def methods(cls: type) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_")} - {"close", "aclose"}

    assert methods(kie.Client) == methods(kie.AsyncClient)


def test_importing_does_not_import_the_emulator_cli_or_pillow() -> None:
    code = (
        "import sys, kie_gpt_image;"
        "heavy = ('PIL', 'kie_gpt_image.emulator', 'kie_gpt_image._cli', 'kie_gpt_image.webhooks');"
        "print([m for m in sys.modules if m.startswith(heavy) and m != 'kie_gpt_image._client'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.strip() == "[]"


def test_public_method_docstrings() -> None:
    for cls in (kie.Client, kie.AsyncClient):
        for name in dir(cls):
            if not name.startswith("_"):
                assert getattr(cls, name).__doc__, f"{cls.__name__}.{name}"


def test_a_short_key_does_not_garble_messages(make_harness: Callable[..., Harness], mode: str) -> None:
    # Issue 24 item 11: with KIE_API_KEY=image every message read "not a supported <API key hidden>".
    harness = make_harness(mode, api_key="image")
    harness.fake.script("credit", envelope(401, None, msg="image images[0]: not a supported image"))
    with pytest.raises(kie.AuthenticationError) as caught:
        harness("credits")
    assert "image images[0]: not a supported image" in str(caught.value)


def test_a_real_key_is_masked_only_where_it_stands_alone(
    make_harness: Callable[..., Harness], mode: str
) -> None:
    harness = make_harness(mode)
    harness.fake.script("credit", envelope(401, None, msg=f"key {KEY} refused; x{KEY}y is another token"))
    with pytest.raises(kie.AuthenticationError) as caught:
        harness("credits")
    assert f"key <API key hidden> refused; x{KEY}y is another token" in str(caught.value)


def test_the_webhook_key_is_a_secret_in_the_client_and_the_receiver() -> None:
    # Issue 24 item 9: the HMAC key was plain in vars(client) and in a receiver's state.
    from kie_gpt_image import webhooks

    hook_key = "whsec-0123456789abcdef0123456789"
    client = kie.Client(api_key=KEY, webhook_key=hook_key)
    receiver = webhooks.wsgi_receiver(lambda info: None, key=hook_key)

    def texts(obj: object, depth: int = 0) -> list[str]:
        found = [repr(obj)]
        if depth < 3 and hasattr(obj, "__dict__"):
            for value in vars(obj).values():
                found += texts(value, depth + 1)
        return found

    for text in texts(client) + texts(receiver):
        assert hook_key not in text
