"""The two front ends over one core: the httpx transport (sync and async) and loopback sockets."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from emulator_support import FakeClock, create_body, png_bytes
from PIL import Image

from kie_gpt_image.emulator import Emulator, Fault, FaultPlan, Schedule, serve

CheckExchange = Callable[[httpx.Request, httpx.Response | None], None]
ROOT = Path(__file__).resolve().parents[2]


def _cycle(http: httpx.Client, emu: Emulator, check: CheckExchange) -> tuple[str, bytes]:
    """Upload, create, poll to success and download the result; check every exchange."""
    upload = http.post(
        f"{emu.upload_base_url}/api/file-stream-upload",
        files={"file": ("in.png", png_bytes(), "image/png")},
        data={"uploadPath": "images/in"},
    )
    check(upload.request, upload)
    created = http.post(
        f"{emu.base_url}/api/v1/jobs/createTask", json=create_body([upload.json()["data"]["downloadUrl"]])
    )
    check(created.request, created)
    task_id = created.json()["data"]["taskId"]
    while True:
        info = http.get(f"{emu.base_url}/api/v1/jobs/recordInfo", params={"taskId": task_id})
        check(info.request, info)
        if info.json()["data"]["state"] == "success":
            break
        time.sleep(0.01)
    (url,) = json.loads(info.json()["data"]["resultJson"])["resultUrls"]
    result = http.get(url)
    assert result.status_code == 200
    return url, result.content


def test_one_transport_serves_sync_and_async_clients(
    emulator: Emulator, check_exchange: CheckExchange
) -> None:
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    with httpx.Client(transport=emulator.transport, headers=headers) as http:
        _, sync_png = _cycle(http, emulator, check_exchange)

    async def run() -> tuple[bytes, int]:
        async with httpx.AsyncClient(transport=emulator.transport, headers=headers) as client:
            created = await client.post(f"{emulator.base_url}/api/v1/jobs/createTask", json=create_body())
            check_exchange(created.request, created)
            task_id = created.json()["data"]["taskId"]
            info = await client.get(f"{emulator.base_url}/api/v1/jobs/recordInfo", params={"taskId": task_id})
            check_exchange(info.request, info)
            (url,) = json.loads(info.json()["data"]["resultJson"])["resultUrls"]
            credits = await client.get(f"{emulator.base_url}/api/v1/chat/credit")
            return (await client.get(url)).content, credits.json()["data"]

    async_png, credits = asyncio.run(run())
    assert sync_png.startswith(b"\x89PNG")
    assert async_png.startswith(b"\x89PNG")
    assert credits == 1000 - 2 * 4


def test_async_client_sees_connection_faults(clock: FakeClock) -> None:
    emu = Emulator(
        schedule=Schedule.instant(),
        clock=clock,
        faults=FaultPlan().on("get-account-credits", 1, Fault.drop_before()),
    )

    async def run() -> None:
        async with httpx.AsyncClient(transport=emu.transport) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{emu.base_url}/api/v1/chat/credit")

    asyncio.run(run())


def test_loopback_server_full_cycle_with_callbacks(check_exchange: CheckExchange) -> None:
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    emu = Emulator(schedule=Schedule(0.01, 0.01, 0.01), callback_transport=httpx.MockTransport(receiver))
    in_process_files = emu.files_base_url
    with emu.serve(port=0) as server:
        ports = {httpx.URL(u).port for u in (server.base_url, server.upload_base_url, server.files_base_url)}
        assert len(ports) == 3
        assert all(httpx.URL(u).host == "127.0.0.1" for u in (server.base_url, server.files_base_url))
        assert emu.base_url == server.base_url
        with httpx.Client(headers={"Authorization": f"Bearer {emu.api_key}"}, timeout=10) as http:
            url, content = _cycle(http, emu, check_exchange)
            created = http.post(
                f"{server.base_url}/api/v1/jobs/createTask",
                json=create_body(callBackUrl="https://hook.test/cb"),
            )
            task_id = created.json()["data"]["taskId"]
        assert url.startswith(f"{server.files_base_url}/r/")
        with Image.open(io.BytesIO(content)) as image:
            assert image.size == (1024, 1024)
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)
        assert json.loads(received[0].content)["data"]["taskId"] == task_id
    assert emu.files_base_url == in_process_files
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/api/v1/chat/credit", timeout=2)


def test_loopback_connection_faults() -> None:
    plan = (
        FaultPlan()
        .on("get-account-credits", 1, Fault.drop_before())
        .on("gpt-image-1-5-image-to-image", 1, Fault.drop_after())
        .on("get-account-credits", 2, Fault.delay(1.0))
        .on("get-account-credits", 3, Fault.http_status(520))
    )
    emu = Emulator(schedule=Schedule.instant(), faults=plan)
    with (
        emu.serve(port=0) as server,
        httpx.Client(headers={"Authorization": f"Bearer {emu.api_key}"}) as http,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(f"{server.base_url}/api/v1/chat/credit")
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(f"{server.base_url}/api/v1/jobs/createTask", json=create_body())
        assert len(emu.create_times) == 1  # the server did the work before the connection dropped
        with pytest.raises(httpx.ReadTimeout):
            http.get(f"{server.base_url}/api/v1/chat/credit", timeout=0.2)
        reply = http.get(f"{server.base_url}/api/v1/chat/credit")
        assert reply.status_code == 520
        assert reply.json()["data"] == 996


def test_loopback_server_serves_200_concurrent_connections() -> None:
    emu = Emulator(schedule=Schedule.instant())
    count = 200
    barrier = threading.Barrier(count, timeout=20)
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    with emu.serve(port=0) as server, httpx.Client(headers=headers, timeout=20, limits=limits) as http:
        url = f"{server.base_url}/api/v1/chat/credit"

        def one() -> None:
            try:
                barrier.wait()  # all 200 requests in flight at once, each on its own connection
                reply = http.get(url)
                with lock:
                    statuses.append(reply.json()["code"])
            except BaseException as exc:
                with lock:
                    errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert statuses == [200] * count
    assert emu.call_count("get-account-credits") == count


def test_serve_runs_until_told_to_stop() -> None:
    lines: list[str] = []
    stop = threading.Event()
    emu = Emulator()
    thread = threading.Thread(
        target=serve, kwargs={"port": 0, "emulator": emu, "announce": lines.append, "until": stop}
    )
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while len(lines) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        base_url = lines[1].split()[-1]
        reply = httpx.get(
            f"{base_url}/api/v1/chat/credit", headers={"Authorization": f"Bearer {emu.api_key}"}
        )
        assert reply.json()["data"] == 1000
        assert lines[4].split()[-1] == emu.api_key
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_command_line_prints_base_urls_and_key() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "facade"), str(ROOT / "generated")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kie_gpt_image.emulator", "--port", "0", "--api-key", "cli-key"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(5)]
        urls = {line.split()[0]: line.split()[1] for line in lines[1:]}
        assert urls["api_key"] == "cli-key"
        reply = httpx.get(
            f"{urls['base_url']}/api/v1/chat/credit", headers={"Authorization": "Bearer cli-key"}
        )
        assert reply.json() == {"code": 200, "msg": "success", "data": 1000}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
