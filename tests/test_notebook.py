"""Issue 27 item 3: results display themselves in Jupyter without any network I/O inside a repr,
``TaskInfo``'s repr is short, and ``kie.Progress`` shows tasks with tqdm or with plain lines."""

from __future__ import annotations

import asyncio
import io
import sys
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest
from PIL import Image

import kie_gpt_image as kie
from kie_gpt_image.emulator import Emulator, Outcome, Schedule

URL = "https://files.test/r/a.png?x=1&y=2"


def _image_bytes(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, fmt)
    return buffer.getvalue()


class Network:
    """A transport that serves ``body`` for the first ``allowed`` requests and fails the test after."""

    def __init__(self, body: bytes = b"", allowed: int = 0) -> None:
        self.body = body
        self.allowed = allowed
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls > self.allowed:
            raise AssertionError(f"network I/O where none is allowed: {request.method} {request.url}")
        return httpx.Response(200, content=self.body, headers={"content-type": "application/octet-stream"})


def _info(urls: tuple[str, ...] = (URL,), task_id: str = "task_1") -> kie.TaskInfo:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return kie.TaskInfo(
        task_id=task_id,
        state=kie.TaskState.SUCCESS,
        model="gpt-image/1.5-image-to-image",
        result_urls=urls,
        created_at=start,
        completed_at=start + timedelta(seconds=12.34),
        raw={"taskId": task_id, "resultJson": "x" * 900},
    )


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _result(mode: str, network: Network, info: kie.TaskInfo) -> Any:
    transport = httpx.MockTransport(network)
    if mode == "sync":
        return kie.EditResult.from_info(info, kie.Client(api_key="k", transport=transport))
    return kie.AsyncEditResult.from_info(info, kie.AsyncClient(api_key="k", transport=transport))


def _read(mode: str, image: Any) -> bytes:
    data = image.read()
    return asyncio.run(data) if mode == "async" else data  # type: ignore[no-any-return]


def test_an_image_not_yet_read_shows_its_url_and_nothing_is_downloaded(mode: str) -> None:
    network = Network()
    result = _result(mode, network, _info())
    image = result.images[0]
    assert image._repr_png_() is None
    assert image._repr_jpeg_() is None
    assert image._repr_html_() == (
        '<a href="https://files.test/r/a.png?x=1&amp;y=2"><img src="https://files.test/r/a.png?x=1&amp;y=2" '
        'alt="result 0 of task task_1" style="max-width: 100%"></a>'
    )
    page = result._repr_html_()
    assert page.count("<img ") == 1
    assert "1 image of task task_1" in page
    repr(result), repr(image), str(result.info)  # plain reprs too
    assert network.calls == 0


@pytest.mark.parametrize(("fmt", "shown_by"), [("PNG", "_repr_png_"), ("JPEG", "_repr_jpeg_")])
def test_an_image_already_read_shows_its_bytes_without_downloading_again(
    mode: str, fmt: str, shown_by: str
) -> None:
    body = _image_bytes(fmt)
    network = Network(body, allowed=1)
    result = _result(mode, network, _info())
    image = result.images[0]
    assert _read(mode, image) == body
    assert getattr(image, shown_by)() == body
    other = "_repr_jpeg_" if shown_by == "_repr_png_" else "_repr_png_"
    assert getattr(image, other)() is None
    assert image._repr_html_() is None  # Jupyter then shows the PNG/JPEG, not an HTML <img> of the URL
    assert f"data:image/{fmt.lower()};base64," in result._repr_html_()
    assert network.calls == 1


def test_result_bytes_are_remembered_by_each_image_and_webp_shows_as_a_data_uri() -> None:
    body = _image_bytes("WEBP")
    network = Network(body, allowed=2)
    result = _result("sync", network, _info((URL, URL.replace("a.png", "b.webp"))))
    assert result.bytes() == [body, body]
    for image in result.images:
        assert image._repr_png_() is None
        assert image._repr_html_().startswith('<img src="data:image/webp;base64,')
    assert network.calls == 2


def test_reprs_escape_what_kie_ai_sent() -> None:
    hostile = 'https://files.test/"><script>alert(1)</script>.png'
    result = _result("sync", Network(), _info((hostile, "javascript:alert(2)"), task_id="task_<b>1</b>"))
    page = result._repr_html_()
    assert "<script>" not in page
    assert "<b>" not in page
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;.png" in page
    assert "task_&lt;b&gt;1&lt;/b&gt;" in page
    assert 'href="javascript' not in page
    assert 'src="javascript' not in page
    assert "<code>javascript:alert(2)</code>" in page


def test_task_info_repr_is_one_short_line_and_the_record_stays_whole() -> None:
    info = _info()
    text = repr(info)
    assert text == (
        "TaskInfo(task_id='task_1', model='gpt-image/1.5-image-to-image', state='success', elapsed=12.3s)"
    )
    assert str(info) == text  # what on_progress=print shows
    assert info.raw["resultJson"] == "x" * 900
    assert info.result_urls == (URL,)
    assert info.elapsed == pytest.approx(12.34)
    failed = kie.TaskInfo(
        "task_2",
        kie.TaskState.FAIL,
        fail_code="500",
        poll_error=kie.TransportError("down", operation="get-task-details"),
    )
    assert repr(failed) == (
        "TaskInfo(task_id='task_2', model=None, state='fail', fail_code='500', poll_error=TransportError)"
    )


# ------------------------------------------------------------------------------------------ progress


def _emulator() -> Emulator:
    def outcome(body: Any) -> Outcome:
        if "bad" in body["input"]["prompt"]:
            return Outcome.fail("500", "blocked")
        return Outcome.success()

    return Emulator(schedule=Schedule.instant(), outcome=outcome)


REQUESTS = [kie.EditRequest([_image_bytes("PNG")], prompt) for prompt in ("one", "bad one", "three")]


@pytest.fixture
def no_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


class FakeTqdm:
    """The part of ``tqdm.auto.tqdm`` that Progress uses, recording what it was asked to show."""

    made: ClassVar[list[FakeTqdm]] = []
    written: ClassVar[list[str]] = []

    def __init__(self, *, total: int | None, unit: str, desc: str) -> None:
        self.total = total
        self.count = 0
        self.postfix: dict[str, Any] = {}
        self.closed = False
        FakeTqdm.made.append(self)

    @classmethod
    def write(cls, line: str) -> None:
        cls.written.append(line)

    def update(self, n: int) -> None:
        self.count += n

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix.update(values)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_tqdm(monkeypatch: pytest.MonkeyPatch) -> type[FakeTqdm]:
    package = types.ModuleType("tqdm")
    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = FakeTqdm  # type: ignore[attr-defined]
    package.auto = auto  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tqdm", package)
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    FakeTqdm.made, FakeTqdm.written = [], []
    return FakeTqdm


@pytest.mark.usefixtures("no_tqdm")
def test_plain_lines_one_per_state_change(capsys: pytest.CaptureFixture[str]) -> None:
    emulator = _emulator()
    with emulator, emulator.client() as client:
        result = client.edit([REQUESTS[0].images[0]], "one", on_progress=kie.Progress())
    lines = capsys.readouterr().out.splitlines()
    assert lines
    assert all(line.startswith(f"{result.task_id}  gpt-image/1.5-image-to-image  ") for line in lines)
    assert lines[-1].endswith("1 result")
    assert "  success  " in lines[-1]


@pytest.mark.usefixtures("no_tqdm")
def test_plain_bar_for_edit_many_sync_and_async(capsys: pytest.CaptureFixture[str]) -> None:
    emulator = _emulator()
    with emulator, emulator.client() as client:
        outcomes = list(kie.Progress().track(client.edit_many(REQUESTS, concurrency=1), total=3))
    assert [o.ok for o in outcomes] == [True, False, True]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"[1/3] done (task {outcomes[0].task_id})"
    assert lines[1].startswith(f"[2/3] item 1 (task {outcomes[1].task_id}) failed: TaskFailedError: ")
    assert lines[2] == f"[3/3] done (task {outcomes[2].task_id})"

    async def many() -> list[Any]:
        async with emulator.async_client() as client:
            return [o async for o in kie.Progress().track(client.edit_many(REQUESTS, concurrency=1))]

    with emulator:
        assert len(asyncio.run(many())) == 3
    assert capsys.readouterr().out.splitlines()[-1].startswith("[3] done (task ")


def test_tqdm_when_installed(fake_tqdm: type[FakeTqdm], capsys: pytest.CaptureFixture[str]) -> None:
    emulator = _emulator()
    with emulator, emulator.client() as client:
        client.edit([REQUESTS[0].images[0]], "one", on_progress=kie.Progress())
        outcomes = list(kie.Progress().track(client.edit_many(REQUESTS, concurrency=1), total=3))
    (bar,) = fake_tqdm.made
    assert (bar.total, bar.count, bar.postfix, bar.closed) == (3, 3, {"failed": 1}, True)
    state_lines = [line for line in fake_tqdm.written if "gpt-image/1.5-image-to-image" in line]
    assert state_lines[-1].endswith("1 result")
    failures = [line for line in fake_tqdm.written if "failed: TaskFailedError" in line]
    assert failures == [failures[0]]
    assert outcomes[1].task_id in failures[0]
    assert capsys.readouterr().out == ""  # everything went through tqdm


@pytest.mark.usefixtures("no_tqdm")
def test_leaving_the_loop_early_closes_what_it_wraps(capsys: pytest.CaptureFixture[str]) -> None:
    closed: list[bool] = []

    def outcomes() -> Iterator[int]:
        try:
            yield from range(10)
        finally:
            closed.append(True)

    for _ in kie.Progress().track(outcomes(), total=10):
        break
    assert closed == [True]
    assert capsys.readouterr().out == "[1/10] done\n"
    with pytest.raises(TypeError, match="the outcomes of edit_many"):
        kie.Progress().track(42)  # type: ignore[call-overload]


def test_a_refused_create_reads_as_a_refusal_not_as_a_failed_poll() -> None:
    from kie_gpt_image._notebook import task_line

    refusal = kie.TaskInfo(
        "", kie.TaskState.UNKNOWN, "create refused (429)", "gpt-image/1.5-image-to-image",
        poll_error=kie.RateLimitError("kie.ai code 429", code=429, operation="create-task"),
    )  # fmt: skip
    line = task_line(refusal)
    assert "createTask refused by kie.ai" in line
    assert "poll failed" not in line
