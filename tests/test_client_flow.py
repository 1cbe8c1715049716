"""The edit flow end to end against the scripted kie.ai, under Client and AsyncClient."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_kie import FILES, KEY, FakeKie, Harness, envelope, image_bytes, record

import kie_gpt_image as kie


def test_edit_uploads_every_local_input_creates_waits_and_saves(harness: Harness, tmp_path: Path) -> None:
    fake = harness.fake
    jpeg = tmp_path / "person.jpg"
    jpeg.write_bytes(image_bytes("JPEG"))
    webp = tmp_path / "dress.webp"
    webp.write_bytes(image_bytes("WEBP"))
    png_bytes = image_bytes("PNG")
    stream = io.BytesIO(image_bytes("PNG", (3, 3)))
    fake.script(
        "record",
        envelope(data=record("waiting")),
        envelope(data=record("queuing")),
        envelope(data=record("generating")),
        envelope(data=record("generating")),
    )
    seen: list[kie.TaskInfo] = []
    result = harness(
        "edit",
        images=[jpeg, str(webp), png_bytes, stream, "https://example.com/ref.png"],
        prompt="Dress the woman in the provided clothing",
        aspect_ratio="2:3",
        quality="high",
        on_progress=seen.append,
    )
    # four local inputs uploaded by stream (at once: the fake numbers them as they arrive), the URL
    # passed through untouched, and createTask names them in the order they were given
    uploads = fake.calls("upload-stream")
    assert len(uploads) == 4
    given = [jpeg.read_bytes(), webp.read_bytes(), png_bytes, stream.getvalue()]
    arrival = [next(n for n, up in enumerate(uploads) if data in up.content) for data in given]
    assert sorted(arrival) == [0, 1, 2, 3]
    (create,) = fake.calls("create")
    body = json.loads(create.content)
    assert body == {
        "model": "gpt-image/1.5-image-to-image",
        "input": {
            "input_urls": [f"{FILES}/u/in-{n}.png" for n in arrival] + ["https://example.com/ref.png"],
            "prompt": "Dress the woman in the provided clothing",
            "aspect_ratio": "2:3",
            "quality": "high",
        },
    }
    # one progress call per state change, not per poll
    assert [i.state for i in seen] == [
        kie.TaskState.WAITING,
        kie.TaskState.QUEUING,
        kie.TaskState.GENERATING,
        kie.TaskState.SUCCESS,
    ]
    assert len(fake.calls("record")) == 5
    assert harness.sleeps == [2.0, 2.0, 2.0, 2.0]
    assert result.task_id == "task_1"
    assert result.urls == (f"{FILES}/r/task_1-0.png",)
    assert not stream.closed, "the caller's file object is left open"
    paths = harness.run(result.save(tmp_path / "out"))
    assert paths == [tmp_path / "out" / "task_1-0.png"]
    assert paths[0].read_bytes() == fake.result_body
    assert harness.run(result.bytes()) == [fake.result_body]


def test_stream_upload_uses_a_random_multipart_boundary(harness: Harness) -> None:
    harness("upload", image_bytes("PNG"))
    (request,) = harness.fake.calls("upload-stream")
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert "boundary=+++" not in content_type
    assert b'name="uploadPath"' in request.content
    assert b'filename="image.png"' in request.content


def test_defaults_are_the_specs(harness: Harness) -> None:
    harness("create_task", ["https://example.com/a.png"], "make it blue")
    body = json.loads(harness.fake.calls("create")[0].content)
    assert body["input"]["aspect_ratio"] == "3:2"
    assert body["input"]["quality"] == "medium"
    assert "callBackUrl" not in body


def test_create_task_returns_at_once_with_the_task_id(harness: Harness) -> None:
    task = harness("create_task", ["https://example.com/a.png"], "p", callback_url="https://me.example/cb")
    assert task == kie.Task(task_id="task_1")
    assert harness.fake.calls("record") == []
    assert json.loads(harness.fake.calls("create")[0].content)["callBackUrl"] == "https://me.example/cb"


def test_edit_without_wait_returns_the_task(harness: Harness) -> None:
    task = harness("edit", ["https://example.com/a.png"], "p", wait=False)
    assert isinstance(task, kie.Task)
    assert harness.fake.calls("record") == []


def test_task_info_exposes_the_record(harness: Harness) -> None:
    harness.fake.script(
        "record",
        envelope(
            data=record(
                "success", urls=["https://x.example/1.png", "https://x.example/2.png"], creditsConsumed=3
            )
        ),
    )
    info = harness("get_task", "task_1")
    assert info.state is kie.TaskState.SUCCESS
    assert info.result_urls == ("https://x.example/1.png", "https://x.example/2.png")
    assert info.model == "gpt-image/1.5-image-to-image"
    assert info.param == {"model": "gpt-image/1.5-image-to-image", "input": {"prompt": "p"}}
    assert info.cost_time_ms == 1200
    assert info.credits_consumed == 3.0
    assert info.created_at == datetime(2025, 12, 17, 10, 42, 36, 336000, tzinfo=UTC)
    assert info.fail_code is None
    assert info.fail_msg is None


def test_unknown_state_is_kept_and_waiting_goes_on(harness: Harness) -> None:
    harness.fake.script("record", envelope(data=record("canceled")), envelope(data=record("success")))
    info = harness("get_task", "task_1")
    assert info.state is kie.TaskState.UNKNOWN
    assert info.raw_state == "canceled"
    result = harness("wait", "task_1")
    assert result.urls


def test_failed_task_raises_with_code_message_and_id(harness: Harness) -> None:
    harness.fake.script(
        "record", envelope(data=record("fail", failCode="422", failMsg="Invalid prompt: too vague"))
    )
    with pytest.raises(kie.TaskFailedError) as caught:
        harness("wait", "task_9")
    assert caught.value.task_id == "task_9"
    assert caught.value.fail_code == "422"
    assert caught.value.fail_msg == "Invalid prompt: too vague"
    assert "Invalid prompt: too vague" in str(caught.value)


def test_integer_fail_code_is_read_as_a_string(harness: Harness) -> None:
    harness.fake.script("record", envelope(data=record("fail", failCode=501, failMsg="boom")))
    with pytest.raises(kie.TaskFailedError) as caught:
        harness("wait", "task_1")
    assert caught.value.fail_code == "501"


def test_wait_timeout_carries_the_task_id_and_wait_resumes(
    fake_kie: FakeKie, make_harness, mode: str
) -> None:  # type: ignore[no-untyped-def]
    h = make_harness(mode, poll_policy=kie.PollPolicy(timeout=10))
    fake_kie.script("record", *[envelope(data=record("generating")) for _ in range(6)])
    with pytest.raises(kie.WaitTimeoutError) as caught:
        h("wait", "task_1")
    assert caught.value.task_id == "task_1"
    assert caught.value.last_state == "generating"
    assert "client.wait('task_1')" in str(caught.value)
    assert h.sleeps == [2.0] * 5
    # the task goes on at kie.ai; waiting again with only the id picks it up
    result = h("wait", "task_1")
    assert result.task_id == "task_1"
    assert result.urls


def test_poll_schedule_follows_the_documented_intervals(fake_kie: FakeKie, make_harness, mode: str) -> None:  # type: ignore[no-untyped-def]
    h = make_harness(mode)
    fake_kie.script("record", *[envelope(data=record("generating")) for _ in range(40)])
    h("wait", "task_1")
    sleeps = h.sleeps
    assert sleeps[:15] == [2.0] * 15  # first 30 s
    assert sleeps[15:33] == [5.0] * 18  # until 2 minutes
    assert set(sleeps[33:]) == {15.0}
    assert len(fake_kie.calls("record")) == 41


def test_wait_timeout_argument_overrides_the_policy(harness: Harness) -> None:
    harness.fake.script("record", *[envelope(data=record("waiting")) for _ in range(10)])
    with pytest.raises(kie.WaitTimeoutError):
        harness("wait", "task_1", timeout=3)
    assert harness.sleeps == [2.0, 1.0]


def test_success_without_result_urls_is_an_error_with_the_task_id(harness: Harness) -> None:
    harness.fake.script("record", envelope(data=record("success", urls=[], resultJson="{}")))
    with pytest.raises(kie.UnexpectedResponseError) as caught:
        harness("wait", "task_1")
    assert caught.value.task_id == "task_1"


def test_credits_and_download_url(harness: Harness) -> None:
    assert harness("credits") == 100
    assert harness("download_url", f"{FILES}/r/x.png") == f"{FILES}/d/direct.png?token=t"
    assert json.loads(harness.fake.calls("download-url")[0].content) == {"url": f"{FILES}/r/x.png"}


def test_upload_variants(harness: Harness, tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(image_bytes("PNG"))
    uploaded = harness("upload", path)
    assert uploaded.url == f"{FILES}/u/in-0.png"
    assert uploaded.mime_type == "image/png"
    harness("upload", path, method="base64", file_name="a.png")
    body = json.loads(harness.fake.calls("upload-base64")[0].content)
    assert body["base64Data"].startswith("data:image/png;base64,iVBOR")
    assert body["fileName"] == "a.png"
    harness("upload", "https://example.com/remote.webp")
    assert (
        json.loads(harness.fake.calls("upload-url")[0].content)["fileUrl"]
        == "https://example.com/remote.webp"
    )


def test_every_request_carries_the_bearer_key(harness: Harness) -> None:
    harness("edit", [image_bytes("PNG")], "p")
    api_requests = [r for r in harness.fake.requests if "aiquickdraw" not in r.url.host]
    assert api_requests
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in api_requests)


def test_async_client_awaits_an_async_progress_callback(fake_kie: FakeKie, make_harness) -> None:  # type: ignore[no-untyped-def]
    h = make_harness("async")
    fake_kie.script("record", envelope(data=record("generating")))
    seen: list[str] = []

    async def on_progress(info: kie.TaskInfo) -> None:
        seen.append(info.state.value)

    h("wait", "task_1", on_progress=on_progress)
    assert seen == ["generating", "success"]
