"""Result downloads: no credentials to foreign hosts, size cap, safe names, no partial files."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fake_kie import FILES, FakeKie, Harness, envelope, record

import kie_gpt_image as kie
from kie_gpt_image._download import result_file_name


def _result(harness: Harness, urls: list[str] | None = None) -> object:
    harness.fake.script("record", envelope(data=record("success", urls=urls)))
    return harness("wait", "task_1")


def test_downloads_carry_no_authorization_header(harness: Harness, tmp_path: Path) -> None:
    result = _result(harness)
    harness.run(result.save(tmp_path))  # type: ignore[attr-defined]
    downloads = harness.fake.calls("files")
    assert len(downloads) == 1
    assert "authorization" not in downloads[0].headers


def test_redirects_are_followed_without_credentials(harness: Harness, tmp_path: Path) -> None:
    harness.fake.script("files", httpx.Response(302, headers={"location": f"{FILES}/cdn/final.png"}))
    result = _result(harness)
    paths = harness.run(result.save(tmp_path))  # type: ignore[attr-defined]
    assert paths[0].read_bytes() == harness.fake.result_body
    assert [r.url.path for r in harness.fake.calls("files")] == ["/r/task_1-0.png", "/cdn/final.png"]
    assert all("authorization" not in r.headers for r in harness.fake.calls("files"))


def test_oversize_by_declared_length_is_refused(
    fake_kie: FakeKie, make_harness, mode: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    h = make_harness(mode, max_download_bytes=100)
    fake_kie.result_body = b"x" * 101
    result = _result(h)
    with pytest.raises(kie.ResultTooLargeError) as caught:
        h.run(result.save(tmp_path))  # type: ignore[attr-defined]
    assert caught.value.task_id == "task_1"
    assert list(tmp_path.iterdir()) == []


def test_oversize_stream_without_length_is_cut_off(
    fake_kie: FakeKie, make_harness, mode: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    h = make_harness(mode, max_download_bytes=1000)

    def chunked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b"y" * 600, b"y" * 600]))

    fake_kie.script("files", chunked)
    result = _result(h)
    with pytest.raises(kie.ResultTooLargeError):
        h.run(result.save(tmp_path))  # type: ignore[attr-defined]
    assert list(tmp_path.iterdir()) == [], "no partial file is left behind"


def test_download_http_error(harness: Harness, tmp_path: Path) -> None:
    harness.fake.script("files", httpx.Response(404, text="gone"))
    result = _result(harness)
    with pytest.raises(kie.DownloadError, match="HTTP 404"):
        harness.run(result.save(tmp_path))  # type: ignore[attr-defined]


def test_transient_download_failure_is_retried(harness: Harness, tmp_path: Path) -> None:
    harness.fake.script("files", httpx.ReadError("reset"))
    result = _result(harness)
    paths = harness.run(result.save(tmp_path))  # type: ignore[attr-defined]
    assert paths[0].read_bytes() == harness.fake.result_body
    assert len(harness.fake.calls("files")) == 2


def test_hostile_urls_cannot_escape_the_folder(harness: Harness, tmp_path: Path) -> None:
    urls = [f"{FILES}/../../etc/passwd", f"{FILES}/r/%2e%2e%2fevil.sh", f"{FILES}/r/ok.webp?x=/../../y"]
    result = _result(harness, urls)
    out = tmp_path / "out"
    paths = harness.run(result.save(out))  # type: ignore[attr-defined]
    # Every body is a PNG: in a folder the suffix is the content's, whatever the URL claims (issue 23).
    assert [p.name for p in paths] == ["task_1-0.png", "task_1-1.png", "task_1-2.png"]
    assert all(p.parent == out for p in paths)


def test_result_file_name_sanitises_the_task_id() -> None:
    assert result_file_name("../../x", 0, "https://h/a.jpg") == "x-0.jpg"
    assert result_file_name("", 3, "https://h/a") == "result-3.png"


def test_dest_that_is_a_file_is_refused(harness: Harness, tmp_path: Path) -> None:
    result = _result(harness)
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(kie.InvalidInputError):
        harness.run(result.save(target))  # type: ignore[attr-defined]


def test_saved_results_get_the_usual_permissions(harness: Harness, tmp_path: Path) -> None:
    import os

    umask = os.umask(0o022)
    try:
        result = _result(harness)
        (path,) = harness.run(result.save(tmp_path))  # type: ignore[attr-defined]
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temporary file is left"
