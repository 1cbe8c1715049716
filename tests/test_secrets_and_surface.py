"""The key never leaks; the public surface is what __all__ says; importing is light."""

from __future__ import annotations

import logging
import subprocess
import sys
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
