"""Issue 16 item 3: ``with_raw_response`` shows the HTTP replies behind a result (never the key), and
uploads report their progress in bytes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fake_kie import KEY, Harness, envelope, image_bytes, record
from PIL import Image

import kie_gpt_image as kie

# --------------------------------------------------------------------------------- with_raw_response


def test_raw_get_task_shows_the_reply_and_parses_to_the_task(harness: Harness) -> None:
    harness.fake.script("record", envelope(data=record("generating"), **{"x-request-id": "req-7"}))
    raw = harness.run(harness.client.with_raw_response.get_task("task_1"))
    assert isinstance(raw, kie.RawResponse)
    assert raw.status_code == 200
    assert raw.headers["x-request-id"] == "req-7"
    assert raw.http_response.json()["data"]["state"] == "generating"
    info = raw.parse()
    assert isinstance(info, kie.TaskInfo)
    assert info.state is kie.TaskState.GENERATING


def test_raw_responses_never_show_the_key(harness: Harness) -> None:
    raw = harness.run(harness.client.with_raw_response.edit([image_bytes("PNG")], "p"))
    assert [r.request.url.path for r in raw.responses] == [
        "/api/file-stream-upload",
        "/api/v1/jobs/createTask",
        "/api/v1/jobs/recordInfo",
    ]
    for response in raw.responses:
        assert response.request.headers["authorization"] == "<API key hidden>"
        assert KEY not in repr(response.request.headers)
        assert KEY not in str(response.request.headers)
        assert response.request.content == b"", "the request body (an upload) is not kept"
    # The client itself still authenticates: the fake saw the key.
    assert harness.fake.calls("create")[0].headers["authorization"] == f"Bearer {KEY}"
    assert isinstance(raw.parse(), (kie.EditResult, kie.AsyncEditResult))


def test_raw_credits_and_retries_are_all_listed(harness: Harness) -> None:
    harness.fake.script("credit", envelope(500, None, msg="boom", status=500))
    raw = harness.run(harness.client.with_raw_response.credits())
    assert [r.status_code for r in raw.responses] == [500, 200]
    assert raw.parse() == 100


def test_raw_capture_ends_with_the_call(harness: Harness) -> None:
    harness.run(harness.client.with_raw_response.credits())
    raw = harness.run(harness.client.with_raw_response.get_task("task_1"))
    assert len(raw.responses) == 1, "replies of earlier calls are not carried over"


def test_raw_wraps_only_methods_that_talk_to_kie_ai(harness: Harness) -> None:
    with pytest.raises(AttributeError, match="with_raw_response has no 'close'"):
        _ = harness.client.with_raw_response.close
    assert "get_task" in dir(harness.client.with_raw_response)


# ------------------------------------------------------------------------------------- upload progress


def _big_png(size: int = 300) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((size, size), 80).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("as_path", [True, False])
def test_upload_reports_the_bytes_httpx_reads(harness: Harness, tmp_path: Path, as_path: bool) -> None:
    data = _big_png()
    source: object = data
    if as_path:
        source = tmp_path / "person.png"
        source.write_bytes(data)
    events: list[kie.UploadProgress] = []
    harness("upload", source, on_upload_progress=events.append)
    assert len(events) > 2, "reported as the body is read, chunk by chunk"
    assert {e.total for e in events} == {len(data)}
    sent = [e.sent for e in events]
    assert sent == sorted(sent)
    assert sent[-1] == len(data)
    assert events[0].file_name == "person.png" if as_path else events[0].file_name.endswith(".png")
    request = harness.fake.calls("upload-stream")[0]
    assert data in request.content, "the wrapper changes nothing that is sent"
    assert int(request.headers["content-length"]) == len(request.content), "still sized, not chunked"


def test_edit_reports_upload_progress_for_each_input(harness: Harness) -> None:
    first, second = _big_png(200), image_bytes("PNG")
    events: list[kie.UploadProgress] = []
    harness("create_task", [("a.png", first), ("b.png", second)], "p", on_upload_progress=events.append)
    finals = [e for e in events if e.sent == e.total]
    # The two uploads run concurrently: each reports its own file, in either order.
    assert sorted((e.file_name, e.total) for e in finals) == [("a.png", len(first)), ("b.png", len(second))]


def test_a_retried_upload_starts_counting_again(harness: Harness) -> None:
    harness.fake.script("upload-stream", envelope(500, None, msg="boom", status=500))
    data = _big_png(200)
    events: list[kie.UploadProgress] = []
    harness("upload", data, on_upload_progress=events.append)
    restarts = [i for i in range(1, len(events)) if events[i].sent < events[i - 1].sent]
    assert len(restarts) == 1
    assert events[-1].sent == len(data)


def test_upload_progress_must_be_callable(harness: Harness) -> None:
    with pytest.raises(kie.InvalidInputError, match="on_upload_progress"):
        harness("upload", image_bytes("PNG"), on_upload_progress="yes")
    assert harness.fake.calls("upload-stream") == []
