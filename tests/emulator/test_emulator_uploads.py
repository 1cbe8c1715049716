"""The upload host (reference §3) and the emulator's own file host."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest
from emulator_support import png_bytes, png_data_url

from kie_gpt_image.emulator import Emulator

Checked = Callable[[httpx.Response], httpx.Response]


def _data(reply: httpx.Response) -> dict[str, object]:
    body = reply.json()
    assert (reply.status_code, body["success"], body["code"]) == (200, True, 200)
    data: dict[str, object] = body["data"]
    return data


def test_stream_upload_stores_the_file_on_the_file_host(
    emulator: Emulator, http: httpx.Client, checked: Checked
) -> None:
    content = png_bytes()
    reply = checked(
        http.post(
            f"{emulator.upload_base_url}/api/file-stream-upload",
            files={"file": ("photo.png", content, "image/png")},
            data={"uploadPath": "images/user-uploads", "fileName": "photo.png"},
        )
    )
    data = _data(reply)
    assert data["fileName"] == "photo.png"
    assert data["filePath"] == "images/user-uploads/photo.png"
    assert data["downloadUrl"] == f"{emulator.files_base_url}/kieai/market/images/user-uploads/photo.png"
    assert (data["fileSize"], data["mimeType"]) == (len(content), "image/png")
    assert str(data["uploadedAt"]).endswith("Z")
    assert not str(data["downloadUrl"]).startswith(emulator.base_url)
    with httpx.Client(transport=emulator.transport) as anonymous:  # result/file downloads need no key
        served = anonymous.get(str(data["downloadUrl"]))
    assert (served.status_code, served.content, served.headers["content-type"]) == (200, content, "image/png")


def test_stream_upload_without_file_name_gets_a_random_one(emulator: Emulator, http: httpx.Client) -> None:
    names = {
        _data(
            http.post(
                f"{emulator.upload_base_url}/api/file-stream-upload",
                files={"file": ("x.png", png_bytes(), "image/png")},
                data={"uploadPath": "u"},
            )
        )["fileName"]
        for _ in range(2)
    }
    assert len(names) == 2
    assert all(str(n).endswith(".png") for n in names)


def test_same_file_name_overwrites(emulator: Emulator, http: httpx.Client) -> None:
    url = ""
    for color in ((1, 2, 3), (4, 5, 6)):
        body = {"base64Data": png_data_url(png_bytes(color)), "uploadPath": "u", "fileName": "same.png"}
        url = str(
            _data(http.post(f"{emulator.upload_base_url}/api/file-base64-upload", json=body))["downloadUrl"]
        )
    assert http.get(url).content == png_bytes((4, 5, 6))


@pytest.mark.parametrize("as_data_url", [True, False])
def test_base64_upload_plain_or_data_url(
    emulator: Emulator, http: httpx.Client, checked: Checked, as_data_url: bool
) -> None:
    content = png_bytes()
    encoded = png_data_url(content) if as_data_url else base64.b64encode(content).decode()
    reply = checked(
        http.post(
            f"{emulator.upload_base_url}/api/file-base64-upload",
            json={"base64Data": encoded, "uploadPath": "images", "fileName": "b.png"},
        )
    )
    data = _data(reply)
    assert (data["fileSize"], data["mimeType"], data["filePath"]) == (
        len(content),
        "image/png",
        "images/b.png",
    )
    assert http.get(str(data["downloadUrl"])).content == content


def test_base64_upload_rejects_garbage(emulator: Emulator, http: httpx.Client) -> None:
    reply = http.post(
        f"{emulator.upload_base_url}/api/file-base64-upload", json={"base64Data": "%%%", "uploadPath": "u"}
    )
    assert reply.json() == {
        "success": False,
        "code": 400,
        "msg": "base64Data is not valid base64",
        "data": None,
    }


def test_url_upload_copies_a_file_the_emulator_hosts(
    emulator: Emulator, http: httpx.Client, checked: Checked
) -> None:
    content = png_bytes()
    first = _data(
        http.post(
            f"{emulator.upload_base_url}/api/file-base64-upload",
            json={"base64Data": png_data_url(content), "uploadPath": "a", "fileName": "one.png"},
        )
    )
    reply = checked(
        http.post(
            f"{emulator.upload_base_url}/api/file-url-upload",
            json={"fileUrl": first["downloadUrl"], "uploadPath": "b", "fileName": "two.png"},
        )
    )
    data = _data(reply)
    assert (data["filePath"], data["fileSize"], data["mimeType"]) == ("b/two.png", len(content), "image/png")
    assert http.get(str(data["downloadUrl"])).content == content


def test_url_upload_refuses_foreign_urls_without_any_network(emulator: Emulator) -> None:
    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"network used: {request.url}")

    emu = Emulator(callback_transport=httpx.MockTransport(no_network))
    with httpx.Client(transport=emu.transport, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        reply = http.post(
            f"{emu.upload_base_url}/api/file-url-upload",
            json={"fileUrl": "https://example.com/photo.png", "uploadPath": "u"},
        )
    assert reply.status_code == 200
    assert reply.json() == {
        "success": False,
        "code": 500,
        "msg": "Failed to download file from URL: https://example.com/photo.png",
        "data": None,
    }


def test_upload_without_upload_path_is_400(emulator: Emulator, http: httpx.Client) -> None:
    reply = http.post(
        f"{emulator.upload_base_url}/api/file-stream-upload",
        files={"file": ("x.png", png_bytes(), "image/png")},
    )
    assert reply.json()["code"] == 400
    assert reply.json()["success"] is False


def test_upload_error_in_http_mode_uses_the_status(emulator: Emulator) -> None:
    emu = Emulator(error_status="both")
    with httpx.Client(transport=emu.transport, headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        reply = http.post(f"{emu.upload_base_url}/api/file-base64-upload", json={"uploadPath": "u"})
    assert reply.status_code == 400
    assert reply.json()["code"] == 400


def test_file_host_answers_404_for_unknown_files(emulator: Emulator, http: httpx.Client) -> None:
    assert http.get(f"{emulator.files_base_url}/kieai/market/none.png").status_code == 404
    assert http.get(f"{emulator.files_base_url}/r/task_gpt-image_1.png").status_code == 404
    assert http.post(f"{emulator.files_base_url}/r/x.png").status_code == 405
