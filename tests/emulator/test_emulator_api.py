"""The API host: task life, credits, auth, unknown tasks, validation, rate limit, download-url."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pytest
from emulator_support import MODEL, FakeClock, create_body, make_client

import kie_gpt_image.emulator as emulator_pkg
from kie_api.models.gpt_image_15_image_to_image_body_input_aspect_ratio import (
    GptImage15ImageToImageBodyInputAspectRatio,
)
from kie_gpt_image.emulator import ENDPOINTS, Emulator, Outcome, Schedule

Checked = Callable[[httpx.Response], httpx.Response]


def create(http: httpx.Client, emu: Emulator, body: Mapping[str, Any] | None = None) -> httpx.Response:
    return http.post(
        f"{emu.base_url}/api/v1/jobs/createTask", json=body if body is not None else create_body()
    )


def record(http: httpx.Client, emu: Emulator, task_id: str) -> httpx.Response:
    return http.get(f"{emu.base_url}/api/v1/jobs/recordInfo", params={"taskId": task_id})


def test_public_names_are_exported_sorted_and_documented() -> None:
    # isort-style, as ruff's RUF022 keeps it: constants, then classes, then functions.
    def group(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2), name

    assert emulator_pkg.__all__ == sorted(emulator_pkg.__all__, key=group)
    for name in emulator_pkg.__all__:
        obj = getattr(emulator_pkg, name)
        if isinstance(obj, type) or inspect.isfunction(obj):
            assert obj.__doc__, name
            assert obj.__module__ == "kie_gpt_image.emulator", name


def test_fault_endpoint_names_are_the_spec_operation_ids() -> None:
    import contract

    spec_ids = {
        op["operationId"] for path in contract.merged_spec()["paths"].values() for op in path.values()
    }
    assert set(ENDPOINTS) == spec_ids | {"files"}


def test_importing_the_package_does_not_import_the_emulator_or_pillow() -> None:
    code = "import sys, kie_gpt_image; print('kie_gpt_image.emulator' in sys.modules, 'PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.split() == ["False", "False"]


def test_importing_the_emulator_does_not_import_pillow() -> None:
    code = "import sys, kie_gpt_image.emulator; print('PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.split() == ["False"]


def test_states_follow_the_schedule_on_the_injected_clock(clock: FakeClock, checked: Checked) -> None:
    emu = Emulator(schedule=Schedule(waiting=1, queuing=2, generating=3), clock=clock)
    with make_client(emu) as http:
        task_id = checked(create(http, emu)).json()["data"]["taskId"]
        assert task_id.startswith("task_gpt-image_")
        seen = []
        for step in (0, 0.999, 0.001, 2, 2.999, 0.001):
            clock.advance(step)
            data = checked(record(http, emu, task_id)).json()["data"]
            seen.append(data["state"])
        assert seen == ["waiting", "waiting", "queuing", "generating", "generating", "success"]
    assert data["updateTime"] == data["completeTime"] == data["createTime"] + 6000
    assert data["costTime"] == 6000
    assert json.loads(data["param"]) == create_body()
    assert json.loads(data["resultJson"]) == {"resultUrls": [f"{emu.files_base_url}/r/{task_id}.png"]}
    assert (data["failCode"], data["failMsg"], data["model"], data["creditsConsumed"]) == ("", "", MODEL, 4)


def test_record_before_completion_has_empty_result_and_no_complete_time(
    clock: FakeClock, checked: Checked
) -> None:
    emu = Emulator(schedule=Schedule(1, 1, 1), clock=clock)
    with make_client(emu) as http:
        task_id = create(http, emu).json()["data"]["taskId"]
        clock.advance(1.5)
        data = checked(record(http, emu, task_id)).json()["data"]
    assert data["state"] == "queuing"
    assert data["resultJson"] == ""
    assert data["costTime"] == 0
    assert data["creditsConsumed"] == 0
    assert "completeTime" not in data
    assert data["updateTime"] == data["createTime"] + 1000


def test_default_schedule_is_about_two_seconds() -> None:
    assert 1.5 <= Schedule().total <= 2.5


def test_outcome_policy_makes_a_task_fail_and_refunds_credits(clock: FakeClock, checked: Checked) -> None:
    def policy(body: Mapping[str, Any]) -> Outcome:
        if "forbidden" in body["input"]["prompt"]:
            return Outcome.fail("422", "Invalid prompt: forbidden content")
        return Outcome.success()

    emu = Emulator(schedule=Schedule(0, 0, 5), clock=clock, credits=100, outcome=policy)
    with make_client(emu) as http:
        task_id = create(http, emu, create_body(prompt="something forbidden")).json()["data"]["taskId"]
        assert emu.credits == 96  # charged when accepted
        clock.advance(5)
        data = checked(record(http, emu, task_id)).json()["data"]
    assert (data["state"], data["failCode"], data["failMsg"]) == (
        "fail",
        "422",
        "Invalid prompt: forbidden content",
    )
    assert data["resultJson"] == ""
    assert data["creditsConsumed"] == 0
    assert emu.credits == 100


def test_credits_decrease_per_task_until_402(checked: Checked, clock: FakeClock) -> None:
    emu = Emulator(schedule=Schedule.instant(), clock=clock, credits=10, task_cost=4)
    with make_client(emu) as http:
        assert checked(http.get(f"{emu.base_url}/api/v1/chat/credit")).json() == {
            "code": 200,
            "msg": "success",
            "data": 10,
        }
        assert [checked(create(http, emu)).json()["code"] for _ in range(2)] == [200, 200]
        refused = create(http, emu)
        assert refused.status_code == 200
        assert refused.json() == {"code": 402, "msg": "Insufficient credits", "data": None}
        assert http.get(f"{emu.base_url}/api/v1/chat/credit").json()["data"] == 2
    assert len(emu.create_times) == 2


@pytest.mark.parametrize("key", ["wrong-key", ""])
def test_wrong_or_missing_key_is_401_on_every_endpoint(emulator: Emulator, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(transport=emulator.transport, headers=headers) as http:
        replies = [
            http.post(f"{emulator.base_url}/api/v1/jobs/createTask", json=create_body()),
            http.get(f"{emulator.base_url}/api/v1/jobs/recordInfo", params={"taskId": "x"}),
            http.get(f"{emulator.base_url}/api/v1/chat/credit"),
            http.post(
                f"{emulator.base_url}/api/v1/common/download-url", json={"url": "https://x.test/a.png"}
            ),
        ]
        upload = http.post(
            f"{emulator.upload_base_url}/api/file-base64-upload",
            json={"base64Data": "AA==", "uploadPath": "a"},
        )
    for reply in replies:
        assert (reply.status_code, reply.json()) == (
            200,
            {"code": 401, "msg": "You do not have access permissions", "data": None},
        )
    assert upload.json() == {
        "success": False,
        "code": 401,
        "msg": "You do not have access permissions",
        "data": None,
    }
    assert emulator.create_times == []
    assert emulator.credits == 1000


@pytest.mark.parametrize(
    ("mode", "status", "body"),
    [
        ("body", 200, {"code": 401, "msg": "You do not have access permissions", "data": None}),
        ("http", 401, {"msg": "You do not have access permissions", "data": None}),
        ("both", 401, {"code": 401, "msg": "You do not have access permissions", "data": None}),
    ],
)
def test_error_status_mode_places_the_code(mode: Any, status: int, body: dict[str, Any]) -> None:
    emu = Emulator(error_status=mode)
    with make_client(emu, key="nope") as http:
        reply = http.get(f"{emu.base_url}/api/v1/chat/credit")
    assert (reply.status_code, reply.json()) == (status, body)


def test_error_envelope_without_null_data_passes_the_contract(checked: Checked) -> None:
    # The published spec cannot describe "data": null; the opt-out variant must match it exactly.
    emu = Emulator(error_data_null=False)
    with make_client(emu, key="nope") as http:
        reply = checked(http.get(f"{emu.base_url}/api/v1/chat/credit"))
    assert reply.json() == {"code": 401, "msg": "You do not have access permissions"}


def test_unknown_task_id_is_404_by_default(http: httpx.Client, emulator: Emulator) -> None:
    reply = record(http, emulator, "task_gpt-image_0")
    assert (reply.status_code, reply.json()) == (200, {"code": 404, "msg": "Task not found", "data": None})


def test_unknown_task_id_can_be_the_newer_422_variant(checked: Checked) -> None:
    emu = Emulator(unknown_task_code=422)
    with make_client(emu) as http:
        reply = record(http, emu, "task_gpt-image_0")
    assert reply.json() == {"code": 422, "msg": "recordInfo is null", "data": None}


def _invalid_bodies() -> list[Any]:
    good = create_body()
    variants: list[Any] = [
        [],
        {"input": good["input"]},  # no model
        {**good, "model": "gpt-image/1"},
        {**good, "input": {**good["input"], "aspect_ratio": "16:9"}},
        {**good, "input": {**good["input"], "quality": "ultra"}},
        {**good, "input": {**good["input"], "prompt": ""}},
        {**good, "input": {**good["input"], "prompt": "   "}},
        {**good, "input": {**good["input"], "input_urls": ["https://x.test/a.png"] * 17}},
        {**good, "input": {**good["input"], "input_urls": ["not a url"]}},
        {**good, "input": {k: v for k, v in good["input"].items() if k != "prompt"}},
        {**good, "callBackUrl": "ftp://x.test/cb"},
        {"model": MODEL},
    ]
    return variants


@pytest.mark.parametrize("body", _invalid_bodies())
def test_spec_invalid_create_is_422_and_charges_nothing(
    emulator: Emulator, http: httpx.Client, body: Any
) -> None:
    reply = create(http, emulator, body)
    assert reply.status_code == 200
    assert reply.json()["code"] == 422
    assert reply.json()["data"] is None
    assert reply.json()["msg"]
    assert emulator.credits == 1000
    assert emulator.create_times == []


def test_sixteen_input_urls_and_every_aspect_ratio_are_accepted(
    emulator: Emulator, http: httpx.Client, checked: Checked
) -> None:
    assert checked(create(http, emulator, create_body(["https://x.test/a.png"] * 16))).json()["code"] == 200
    for ratio in [m.value for m in GptImage15ImageToImageBodyInputAspectRatio]:
        assert checked(create(http, emulator, create_body(aspect_ratio=ratio))).json()["code"] == 200


def test_rate_limit_is_20_per_10_seconds_and_429s_are_not_queued(
    emulator: Emulator, http: httpx.Client, clock: FakeClock, checked: Checked
) -> None:
    for _ in range(20):
        checked(create(http, emulator))
        clock.advance(0.25)
    refused = create(http, emulator)
    assert refused.json() == {
        "code": 429,
        "msg": "Rate limit exceeded: at most 20 new tasks per 10 seconds",
        "data": None,
    }
    times = emulator.create_times
    assert len(times) == 20
    assert times[-1] - times[0] == pytest.approx(4.75)
    assert emulator.credits == 1000 - 20 * 4
    clock.advance(10 - 5 + 0.01)  # the first accepted create leaves the window
    assert checked(create(http, emulator)).json()["code"] == 200
    assert create(http, emulator).json()["code"] == 429
    assert len(emulator.create_times) == 21


def test_download_url_for_a_result_and_422_for_an_external_url(
    emulator: Emulator, http: httpx.Client, checked: Checked, clock: FakeClock
) -> None:
    task_id = create(http, emulator).json()["data"]["taskId"]
    result = json.loads(record(http, emulator, task_id).json()["data"]["resultJson"])["resultUrls"][0]
    reply = checked(http.post(f"{emulator.base_url}/api/v1/common/download-url", json={"url": result}))
    link = reply.json()["data"]
    assert link.startswith(f"{emulator.files_base_url}/d/{task_id}.png?token=")
    downloaded = http.get(link)
    assert downloaded.status_code == 200
    assert downloaded.content == http.get(result).content
    assert downloaded.content.startswith(b"\x89PNG")
    clock.advance(20 * 60 + 1)  # links last about 20 minutes (reference §4)
    assert http.get(link).status_code == 403
    external = http.post(
        f"{emulator.base_url}/api/v1/common/download-url", json={"url": "https://example.com/cat.png"}
    )
    assert external.json()["code"] == 422
    assert external.json()["data"] is None


def test_unknown_path_is_404_and_wrong_method_405(emulator: Emulator, http: httpx.Client) -> None:
    assert http.get(f"{emulator.base_url}/api/v1/nothing").json()["code"] == 404
    wrong = http.get(f"{emulator.base_url}/api/v1/jobs/createTask")
    assert wrong.status_code == 405
    # Upload paths live on the upload host only (reference: the API host answers 404 there).
    assert http.post(f"{emulator.base_url}/api/file-base64-upload", json={}).json()["code"] == 404


def test_requests_to_foreign_hosts_never_leave_the_process(http: httpx.Client) -> None:
    with pytest.raises(httpx.ConnectError):
        http.get("https://api.kie.ai/api/v1/chat/credit")


def test_exchanges_are_recorded_and_counted(emulator: Emulator, http: httpx.Client) -> None:
    task_id = create(http, emulator).json()["data"]["taskId"]
    record(http, emulator, task_id)
    record(http, emulator, task_id)
    assert [x.endpoint for x in emulator.exchanges] == [
        "gpt-image-1-5-image-to-image",
        "get-task-details",
        "get-task-details",
    ]
    assert emulator.call_count("get-task-details") == 2
    assert emulator.exchanges[0].response.json()["data"]["taskId"] == task_id
    assert emulator.task_record(task_id) == emulator.exchanges[-1].response.json()["data"]
