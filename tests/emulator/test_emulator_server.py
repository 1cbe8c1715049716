"""The two front ends over one core: the httpx transport (sync and async) and loopback sockets."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shlex
import socket
import struct
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

from kie_gpt_image.emulator import DEFAULT_WEBHOOK_HMAC_KEY, Emulator, Fault, FaultPlan, Schedule, serve
from kie_gpt_image.emulator._run import add_options, emulator_from_options

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


def _announced(proc: subprocess.Popen[str]) -> list[str]:
    """The lines a server subprocess announced, up to its last ``export`` line (the HMAC key's, unless
    that key came from the environment and is not shown)."""
    assert proc.stdout is not None
    lines: list[str] = []
    hidden = False
    while line := proc.stdout.readline():
        lines.append(line.rstrip("\n"))
        hidden = hidden or "not shown" in line
        if line.startswith("export KIE_UPLOAD_BASE_URL=" if hidden else "export KIE_WEBHOOK_HMAC_KEY="):
            break
    return lines


def _exports(lines: list[str]) -> dict[str, str]:
    exports = {}
    for line in lines:
        if line.startswith("export "):
            ((name, value),) = [shlex.split(line[len("export ") :])[0].split("=", 1)]
            exports[name] = value
    return exports


def _server_process(args: list[str], **env: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KIE_")}
    environ.update(env, PYTHONPATH=os.pathsep.join([str(ROOT / "facade"), str(ROOT / "generated")]))
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=environ)  # noqa: S603


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


def test_command_line_prints_urls_keys_and_the_exports_a_client_needs() -> None:
    proc = _server_process(
        [
            sys.executable,
            "-m",
            "kie_gpt_image.emulator",
            *("--port", "0", "--api-key", "cli-key", "--webhook-key", "hook key"),
        ]
    )
    try:
        lines = _announced(proc)
        urls = {line.split()[0]: line.split()[1] for line in lines[1:5]}
        assert urls["api_key"] == "cli-key"
        assert "  webhook_hmac_key hook key" in lines
        exports = _exports(lines)
        assert exports == {
            "KIE_API_KEY": "cli-key",
            "KIE_BASE_URL": urls["base_url"],
            "KIE_UPLOAD_BASE_URL": urls["upload_base_url"],
            "KIE_WEBHOOK_HMAC_KEY": "hook key",  # shell-quoted, so it survives the space
        }
        reply = httpx.get(
            f"{exports['KIE_BASE_URL']}/api/v1/chat/credit",
            headers={"Authorization": f"Bearer {exports['KIE_API_KEY']}"},
        )
        assert reply.json() == {"code": 200, "msg": "success", "data": 1000}
        upload = httpx.post(
            f"{exports['KIE_UPLOAD_BASE_URL']}/api/file-base64-upload",
            headers={"Authorization": f"Bearer {exports['KIE_API_KEY']}"},
            json={"base64Data": "aGVsbG8=", "uploadPath": "u", "fileName": "a.txt"},
        )
        assert upload.json()["code"] == 200
    finally:
        _stop(proc)


def test_the_cli_emulator_command_prints_the_exports_too() -> None:
    code = "from kie_gpt_image._cli import main; main(['emulator', '--port', '0'])"
    proc = _server_process([sys.executable, "-c", code])
    try:
        exports = _exports(_announced(proc))
        assert exports["KIE_API_KEY"] == "kie-emulator-key"
        assert exports["KIE_WEBHOOK_HMAC_KEY"] == "kie-emulator-webhook-hmac-key"
        reply = httpx.get(
            f"{exports['KIE_BASE_URL']}/api/v1/chat/credit",
            headers={"Authorization": f"Bearer {exports['KIE_API_KEY']}"},
        )
        assert reply.json()["data"] == 1000
    finally:
        _stop(proc)


def test_a_webhook_key_from_the_environment_is_used_and_never_printed() -> None:
    proc = _server_process(
        [sys.executable, "-m", "kie_gpt_image.emulator", "--port", "0"],
        KIE_WEBHOOK_HMAC_KEY="env-secret-hmac-key",
    )
    try:
        lines = _announced(proc)
    finally:
        _stop(proc)
    assert not any("env-secret-hmac-key" in line for line in lines)
    assert "  webhook_hmac_key (from KIE_WEBHOOK_HMAC_KEY, not shown)" in lines
    assert set(_exports(lines)) == {"KIE_API_KEY", "KIE_BASE_URL", "KIE_UPLOAD_BASE_URL"}


def test_options_build_the_emulator_they_describe(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    add_options(parser)
    monkeypatch.setenv("KIE_WEBHOOK_HMAC_KEY", "from-env")
    emu, shown = emulator_from_options(parser.parse_args([]))
    assert (emu.webhook_hmac_key, shown) == ("from-env", False)
    args = parser.parse_args(
        [
            *("--webhook-key", "flag", "--rate-limit", "5", "--max-running", "7", "--poll-limit", "3"),
            *("--durations", "20", "90", "--callback-hosts", "any", "--keep-exchanges", "2"),
        ]
    )
    emu, shown = emulator_from_options(args)
    assert (emu.webhook_hmac_key, shown) == ("flag", True)
    assert (emu.rate_limit, emu.max_running, emu.poll_limit, emu.callback_hosts) == (5, 7, 3, "any")
    assert emu.schedule.duration is not None
    monkeypatch.delenv("KIE_WEBHOOK_HMAC_KEY")
    emu, shown = emulator_from_options(parser.parse_args([]))
    assert (emu.webhook_hmac_key, emu.callback_hosts, shown) == (DEFAULT_WEBHOOK_HMAC_KEY, "loopback", True)
    assert emu.schedule.duration is None


def test_a_client_hanging_up_mid_reply_is_counted_not_logged(capsys: pytest.CaptureFixture[str]) -> None:
    emu = Emulator(schedule=Schedule.instant())
    big = os.urandom(16 * 1024 * 1024)  # larger than any loopback socket buffer: the write must block
    with emu.serve(port=0) as server:
        with httpx.Client(headers={"Authorization": f"Bearer {emu.api_key}"}, timeout=30) as http:
            reply = http.post(
                f"{server.upload_base_url}/api/file-stream-upload",
                files={"file": ("big.bin", big, "application/octet-stream")},
                data={"uploadPath": "big"},
            )
        url = httpx.URL(reply.json()["data"]["downloadUrl"])
        assert url.port is not None
        with socket.create_connection((url.host, url.port), timeout=10) as sock:
            sock.sendall(
                f"GET {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.netloc.decode()}\r\n\r\n".encode()
            )
            assert sock.recv(16).startswith(b"HTTP/1.1 200")  # the reply is being written
            # Hang up hard (RST) while the server is still writing.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        deadline = time.monotonic() + 10
        while server.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.disconnects == 1
        with httpx.Client(headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
            assert http.get(f"{server.base_url}/api/v1/chat/credit").json()["code"] == 200  # still serving
    assert server.disconnects == 1  # kept after stop()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "BrokenPipe" not in err
    assert "ConnectionReset" not in err


def test_exchanges_keep_only_the_last_n(clock: FakeClock) -> None:
    emu = Emulator(schedule=Schedule.instant(), clock=clock, max_exchanges=5)
    with httpx.Client(transport=emu.transport, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        for n in range(12):
            http.get(f"{emu.base_url}/api/v1/jobs/recordInfo", params={"taskId": f"t{n}"})
            clock.advance(1)
    assert [e.request.url.params["taskId"] for e in emu.exchanges] == ["t7", "t8", "t9", "t10", "t11"]
    assert emu.call_count("get-task-details") == 12  # counts are not capped


def test_a_long_run_keeps_a_thousand_exchanges_by_default(clock: FakeClock) -> None:
    emu = Emulator(schedule=Schedule.instant(), clock=clock)
    with httpx.Client(transport=emu.transport, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        for _ in range(1100):
            http.get(f"{emu.base_url}/api/v1/chat/credit")
    assert len(emu.exchanges) == 1000


def test_the_cli_emulator_command_takes_the_webhook_key_from_the_environment() -> None:
    code = "from kie_gpt_image._cli import main; main(['emulator', '--port', '0'])"
    proc = _server_process([sys.executable, "-c", code], KIE_WEBHOOK_HMAC_KEY="env-secret-hmac-key")
    try:
        lines = _announced(proc)
    finally:
        _stop(proc)
    assert "  webhook_hmac_key (from KIE_WEBHOOK_HMAC_KEY, not shown)" in lines
    assert not any("env-secret-hmac-key" in line for line in lines)
