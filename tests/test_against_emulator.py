"""The public clients against the offline emulator: in-process, over loopback sockets, and with
signed callbacks delivered to a receiver on loopback."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import contract
import pytest
from PIL import Image

import kie_gpt_image as kie
from kie_gpt_image.emulator import Emulator, Fault, Outcome, Schedule
from kie_gpt_image.webhooks import verify_callback

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "examples" / "samples"
FAST = kie.PollPolicy(early_interval=0.01, middle_interval=0.01, late_interval=0.01, timeout=10)


def _size(path: str | Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def _check_all(emulator: Emulator) -> int:
    checked = 0
    for exchange in emulator.exchanges:
        if exchange.endpoint in ("files", "unknown") or exchange.fault:
            continue
        contract.check_request(exchange.request)
        contract.check_response(exchange.request, exchange.response)
        checked += 1
    return checked


def test_edit_in_process_sync_and_async(tmp_path: Path) -> None:
    with Emulator(schedule=Schedule.instant()) as emulator:
        with emulator.client(poll_policy=FAST) as client:
            result = client.edit(
                [SAMPLES / "person.png", SAMPLES / "dress.jpg"], "dress her", aspect_ratio="2:3"
            )
            (path,) = result.save(tmp_path / "sync")
        assert _size(path) == (1024, 1536)

        async def run() -> list[Path]:
            async with emulator.async_client(poll_policy=FAST) as client:
                result = await client.edit([SAMPLES / "person.png"], "make it blue", aspect_ratio="1:1")
                return await result.save(tmp_path / "async")

        (path,) = asyncio.run(run())
        assert _size(path) == (1024, 1024)
        assert emulator.call_count("gpt-image-1-5-image-to-image") == 2
        assert emulator.call_count("upload-file-stream") == 3
        assert _check_all(emulator) >= 7


def test_emulator_faults_reach_the_user_as_typed_errors() -> None:
    with Emulator(
        schedule=Schedule.instant(), outcome=lambda body: Outcome.fail("422", "Invalid prompt: x")
    ) as em:
        with em.client(poll_policy=FAST) as client:
            with pytest.raises(kie.TaskFailedError) as caught:
                client.edit([SAMPLES / "person.png"], "p")
            assert caught.value.fail_msg == "Invalid prompt: x"
            assert caught.value.task_id
    with Emulator(schedule=Schedule.instant()) as em:
        em.faults.on("gpt-image-1-5-image-to-image", 1, Fault.drop_after())
        with em.client(poll_policy=FAST) as client:
            with pytest.raises(kie.SubmissionOutcomeUnknownError):
                client.create_task(["https://example.com/a.png"], "p")
        assert em.call_count("gpt-image-1-5-image-to-image") == 1


def test_edit_over_loopback_sockets(tmp_path: Path) -> None:
    with Emulator(schedule=Schedule.instant()) as emulator, emulator.serve(port=0) as server:
        with kie.Client(
            api_key=emulator.api_key,
            base_url=server.base_url,
            upload_base_url=server.upload_base_url,
            poll_policy=FAST,
        ) as client:
            result = client.edit([SAMPLES / "dress.jpg"], "make it green", aspect_ratio="3:2")
            (path,) = result.save(tmp_path)
            assert client.credits() == 1000 - 4
        assert result.urls[0].startswith(server.files_base_url)
        assert _size(path) == (1536, 1024)


class _Receiver(BaseHTTPRequestHandler):
    key: ClassVar[str] = ""
    received: ClassVar[list[kie.TaskInfo]] = []
    failures: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            self.received.append(verify_callback(body, dict(self.headers.items()), self.key).unverified_info)
            self.send_response(200)
        except kie.WebhookVerificationError as exc:
            self.failures.append(type(exc).__name__)
            self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"key": "hmac-key-for-tests", "received": [], "failures": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/kie/callback", handler
    server.shutdown()
    server.server_close()


def test_signed_callback_end_to_end_equals_get_task(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    with (
        Emulator(schedule=Schedule.instant(), webhook_hmac_key=handler.key) as emulator,
        emulator.serve(port=0) as server,
        kie.Client(
            api_key=emulator.api_key,
            base_url=server.base_url,
            upload_base_url=server.upload_base_url,
            allow_http_callback=True,
        ) as client,
    ):
        task = client.edit([SAMPLES / "person.png"], "p", callback_url=url, wait=False)
        for _ in range(200):
            if handler.received or handler.failures:
                break
            threading.Event().wait(0.02)
        assert handler.failures == []
        (info,) = handler.received
        assert info == client.get_task(task.task_id)
        assert info.state is kie.TaskState.SUCCESS
        assert info.result_urls


def test_readme_main_job_writes_an_edited_png(tmp_path: Path) -> None:
    out = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "examples" / "edit.py"), "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    written = [line.split(" ", 1)[1] for line in out.stdout.splitlines() if line.startswith("wrote ")]
    assert len(written) == 1
    assert _size(written[0]) == (1024, 1536)
    assert "success" in out.stdout


def test_emulator_records_are_what_the_facade_parses() -> None:
    with Emulator(schedule=Schedule.instant()) as emulator, emulator.client(poll_policy=FAST) as client:
        task = client.create_task(["https://example.com/a.png"], "p")
        info = client.get_task(task.task_id)
        record = emulator.task_record(task.task_id)
        assert record is not None
        assert info.raw == record
        assert info.param == json.loads(record["param"])
