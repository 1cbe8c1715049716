"""Fault injection, in-process: what a client sees and what the server did."""

from __future__ import annotations

import json

import httpx
import pytest
from emulator_support import FakeClock, create_body, make_client

from kie_gpt_image.emulator import Emulator, Fault, FaultPlan, Schedule

CREATE = "gpt-image-1-5-image-to-image"
RECORD = "get-task-details"


def _emulator(clock: FakeClock, plan: FaultPlan, **options: object) -> Emulator:
    return Emulator(schedule=Schedule.instant(), clock=clock, faults=plan, **options)  # type: ignore[arg-type]


def _create(http: httpx.Client, emu: Emulator) -> httpx.Response:
    return http.post(f"{emu.base_url}/api/v1/jobs/createTask", json=create_body())


def _record(http: httpx.Client, emu: Emulator, task_id: str) -> httpx.Response:
    return http.get(f"{emu.base_url}/api/v1/jobs/recordInfo", params={"taskId": task_id})


def test_drop_before_raises_connect_error_and_processes_nothing(clock: FakeClock) -> None:
    emu = _emulator(clock, FaultPlan().on(CREATE, 1, Fault.drop_before()))
    with make_client(emu) as http:
        with pytest.raises(httpx.ConnectError):
            _create(http, emu)
        assert (emu.create_times, emu.credits, emu.exchanges) == ([], 1000, [])
        assert emu.call_count(CREATE) == 1
        assert _create(http, emu).json()["code"] == 200  # the 2nd call is not faulted


def test_drop_after_creates_the_task_but_the_reply_is_lost(clock: FakeClock) -> None:
    emu = _emulator(clock, FaultPlan().on(CREATE, 1, Fault.drop_after()))
    with make_client(emu) as http, pytest.raises(httpx.RemoteProtocolError):
        _create(http, emu)
    assert len(emu.create_times) == 1
    assert emu.credits == 996
    (exchange,) = emu.exchanges
    assert exchange.fault == "drop_after"
    assert emu.task_record(exchange.response.json()["data"]["taskId"]) is not None


def test_delay_without_sleep_times_out_after_processing(clock: FakeClock) -> None:
    emu = _emulator(clock, FaultPlan().on(CREATE, 1, Fault.delay(30)))
    with make_client(emu) as http, pytest.raises(httpx.ReadTimeout):
        _create(http, emu)
    assert len(emu.create_times) == 1


def test_delay_with_an_injected_sleep_replies_late(clock: FakeClock) -> None:
    slept: list[float] = []
    emu = _emulator(clock, FaultPlan().on(RECORD, 1, Fault.delay(7.5)), sleep=slept.append)
    with make_client(emu) as http:
        assert _record(http, emu, "nope").json()["code"] == 404
    assert slept == [7.5]


def test_second_record_call_gets_a_502_html_page(clock: FakeClock) -> None:
    emu = _emulator(clock, FaultPlan().on(RECORD, 2, Fault.http_error(502)))
    with make_client(emu) as http:
        task_id = _create(http, emu).json()["data"]["taskId"]
        replies = [_record(http, emu, task_id) for _ in range(3)]
    assert [r.status_code for r in replies] == [200, 502, 200]
    assert replies[1].headers["content-type"] == "text/html"
    assert "<title>502 Bad Gateway</title>" in replies[1].text
    assert emu.call_count(RECORD) == 3


def test_truncated_json_after_the_task_was_created(clock: FakeClock) -> None:
    emu = _emulator(clock, FaultPlan().on(CREATE, 1, Fault.truncated_json()))
    with make_client(emu) as http:
        reply = _create(http, emu)
    with pytest.raises(json.JSONDecodeError):
        reply.json()
    assert reply.headers["content-type"] == "application/json"
    assert reply.text.startswith('{"code":200')
    assert len(emu.create_times) == 1


def test_non_json_body_processes_nothing(clock: FakeClock) -> None:
    emu = _emulator(clock, FaultPlan().on(CREATE, 1, Fault.non_json()))
    with make_client(emu) as http:
        reply = _create(http, emu)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    with pytest.raises(json.JSONDecodeError):
        reply.json()
    assert emu.create_times == []


@pytest.mark.parametrize(
    ("code", "retry_after"), [(429, "7"), (429, None), (455, None), (500, None), (505, None)]
)
def test_body_codes_are_not_accepted(clock: FakeClock, code: int, retry_after: str | None) -> None:
    emu = _emulator(clock, FaultPlan().on(CREATE, 1, Fault.body_code(code, retry_after=retry_after)))
    with make_client(emu) as http:
        reply = _create(http, emu)
    assert reply.status_code == 200
    assert reply.json()["code"] == code
    assert reply.json()["data"] is None
    assert reply.headers.get("retry-after") == retry_after
    assert emu.create_times == []
    assert emu.credits == 1000


def test_body_code_follows_the_error_status_mode(clock: FakeClock) -> None:
    emu = _emulator(clock, FaultPlan().on(CREATE, 1, Fault.body_code(455)), error_status="both")
    with make_client(emu) as http:
        reply = _create(http, emu)
    assert (reply.status_code, reply.json()["code"]) == (455, 455)


def test_unknown_state_in_a_record(clock: FakeClock) -> None:
    emu = _emulator(clock, FaultPlan().on(RECORD, None, Fault.unknown_state("canceled")))
    with make_client(emu) as http:
        task_id = _create(http, emu).json()["data"]["taskId"]
        states = [_record(http, emu, task_id).json()["data"]["state"] for _ in range(2)]
    assert states == ["canceled", "canceled"]


def test_null_data(clock: FakeClock) -> None:
    emu = _emulator(clock, FaultPlan().on(RECORD, 1, Fault.null_data()))
    with make_client(emu) as http:
        task_id = _create(http, emu).json()["data"]["taskId"]
        assert _record(http, emu, task_id).json() == {"code": 200, "msg": "success", "data": None}


@pytest.mark.parametrize("status", [520, 455])
def test_non_standard_http_status(clock: FakeClock, status: int) -> None:
    emu = _emulator(clock, FaultPlan().on("get-account-credits", 1, Fault.http_status(status)))
    with make_client(emu) as http:
        reply = http.get(f"{emu.base_url}/api/v1/chat/credit")
    assert reply.status_code == status
    assert reply.json() == {"code": 200, "msg": "success", "data": 1000}


def test_faults_on_upload_and_file_hosts(clock: FakeClock) -> None:
    plan = (
        FaultPlan()
        .on("upload-file-base64", 1, Fault.http_error(503))
        .on("files", [1, 2], Fault.drop_before())
    )
    emu = _emulator(clock, plan)
    with make_client(emu) as http:
        body = {"base64Data": "iVBORw0KGgo=", "uploadPath": "u", "fileName": "a.png"}
        assert http.post(f"{emu.upload_base_url}/api/file-base64-upload", json=body).status_code == 503
        url = http.post(f"{emu.upload_base_url}/api/file-base64-upload", json=body).json()["data"][
            "downloadUrl"
        ]
        for _ in range(2):
            with pytest.raises(httpx.ConnectError):
                http.get(url)
        assert http.get(url).status_code == 200


def test_unknown_endpoint_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown endpoint"):
        FaultPlan().on("createTask", 1, Fault.drop_before())


def test_a_cleared_plan_injects_nothing(clock: FakeClock) -> None:
    plan = FaultPlan().on(CREATE, None, Fault.non_json())
    emu = _emulator(clock, plan)
    plan.clear()
    with make_client(emu) as http:
        assert _create(http, emu).json()["code"] == 200
