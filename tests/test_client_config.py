"""Issue 13 items 3-5 and issue 17 item 6 (client side): hosts from the environment, a 401 that says where
the key came from, help() that shows the overloads, and a warning for a callback kie.ai cannot reach."""

from __future__ import annotations

import inspect
import pydoc
import re
import typing
import warnings

import httpx
import pytest
from fake_kie import KEY, FakeKie, Harness, envelope, image_bytes

import kie_gpt_image as kie
from kie_gpt_image.emulator import Emulator, Schedule

# ------------------------------------------------------------------------------ hosts from the environment


@pytest.mark.parametrize("client_class", [kie.Client, kie.AsyncClient])
def test_hosts_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, client_class: type) -> None:
    monkeypatch.setenv("KIE_BASE_URL", "http://127.0.0.1:8787/")
    monkeypatch.setenv("KIE_UPLOAD_BASE_URL", "https://proxy.example/upload")
    client = client_class(api_key=KEY)
    assert (client.base_url, client.upload_base_url) == (
        "http://127.0.0.1:8787",
        "https://proxy.example/upload",
    )


@pytest.mark.parametrize("client_class", [kie.Client, kie.AsyncClient])
def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch, client_class: type) -> None:
    monkeypatch.setenv("KIE_BASE_URL", "http://127.0.0.1:8787")
    monkeypatch.setenv("KIE_UPLOAD_BASE_URL", "http://127.0.0.1:8788")
    client = client_class(api_key=KEY, base_url="https://a.example", upload_base_url="https://b.example")
    assert (client.base_url, client.upload_base_url) == ("https://a.example", "https://b.example")


def test_without_the_variables_the_hosts_are_kie_ai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIE_BASE_URL", raising=False)
    monkeypatch.setenv("KIE_UPLOAD_BASE_URL", "")  # empty means unset, as for KIE_API_KEY
    client = kie.Client(api_key=KEY)
    assert (client.base_url, client.upload_base_url) == (kie.DEFAULT_BASE_URL, kie.DEFAULT_UPLOAD_BASE_URL)


def test_a_bad_host_in_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIE_BASE_URL", "http://proxy.example")  # plain http off loopback: key in clear
    with pytest.raises(kie.InvalidInputError) as caught:
        kie.Client(api_key=KEY)
    assert caught.value.field == "KIE_BASE_URL"


def test_the_emulator_exports_point_a_client_at_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # What `python -m kie_gpt_image.emulator` prints is enough: no base_url in code.
    with Emulator(schedule=Schedule.instant()) as emulator:
        monkeypatch.setenv("KIE_API_KEY", emulator.api_key)
        monkeypatch.setenv("KIE_BASE_URL", emulator.base_url)
        monkeypatch.setenv("KIE_UPLOAD_BASE_URL", emulator.upload_base_url)
        with kie.Client(transport=emulator.transport) as client:
            result = client.edit([image_bytes("PNG")], "make it blue")
        assert result.urls
        assert emulator.call_count("gpt-image-1-5-image-to-image") == 1


# ------------------------------------------------------------------------------------------------- 401


def test_a_401_names_the_variable_the_key_came_from(
    fake_kie: FakeKie, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIE_API_KEY", KEY)
    fake_kie.script("upload-stream", envelope(401, None, msg=f"You do not have access permissions {KEY}"))
    h = Harness(mode, fake_kie, api_key=None)
    try:
        with pytest.raises(kie.AuthenticationError) as caught:
            h("edit", [image_bytes("PNG")], "p")
    finally:
        h.finish()
    text = str(caught.value)
    assert "KIE_API_KEY" in text
    assert "...cdef" in text  # the last four characters, no more
    assert KEY not in text
    assert KEY[:-4] not in text
    assert KEY[-5:] not in text
    assert "https://kie.ai/api-key" in text
    assert caught.value.key_source == "the KIE_API_KEY environment variable"


def test_a_401_names_the_api_key_argument(harness: Harness) -> None:
    harness.fake.script("record", envelope(401, None, msg="bad key"))
    with pytest.raises(kie.AuthenticationError) as caught:
        harness("get_task", "task_1")
    assert "from the api_key argument" in str(caught.value)
    assert str(caught.value).count("https://kie.ai/api-key") == 1, "said once, however often it is masked"


def test_a_401_shows_nothing_of_a_short_key(fake_kie: FakeKie) -> None:
    fake_kie.script("record", envelope(401, None, msg="bad key"))
    h = Harness("sync", fake_kie, api_key="abc123")
    try:
        with pytest.raises(kie.AuthenticationError) as caught:
            h("get_task", "task_1")
    finally:
        h.finish()
    assert "c123" not in str(caught.value)
    assert "ending in" not in str(caught.value)


# --------------------------------------------------------------------------------------------- help()


@pytest.mark.parametrize(
    ("method", "waited"),
    [(kie.Client.edit, "EditResult"), (kie.AsyncClient.edit, "AsyncEditResult")],
)
def test_help_shows_both_overloads_of_edit(method: typing.Any, waited: str) -> None:
    text = pydoc.render_doc(method, renderer=pydoc.plaintext)
    assert f"wait: Literal[True] = True, ...) -> {waited}" in text
    assert "wait: Literal[False], ...) -> Task" in text


@pytest.mark.parametrize(
    ("client_class", "waited"), [(kie.Client, "EditResult"), (kie.AsyncClient, "AsyncEditResult")]
)
def test_the_documented_overloads_are_the_real_ones(client_class: type, waited: str) -> None:
    # The typed signatures are generated per model (kie_api.model_methods.EditCall, bound to the
    # facade's types in _client): the docstring states what every pair of them says about ``wait``.
    import kie_api.model_methods

    source = inspect.getsource(kie_api.model_methods)
    edit_call = source.split("class EditCall(")[1].split("\nclass ")[0]
    signatures = re.findall(r"def __call__\((.*?)\) -> (\w+): \.\.\.", edit_call, re.S)
    assert len(signatures) == 2 * len([m for m in kie.MODELS.values() if m.takes_images])
    for parameters, returned in signatures:
        waits = "wait: Literal[True] = ...," if returned == "ResultT" else "wait: Literal[False],"
        assert waits in parameters, (parameters, returned)
    documented = inspect.getdoc(client_class.edit) or ""
    assert f"wait: Literal[True] = True, ...) -> {waited}" in documented
    assert "wait: Literal[False], ...) -> Task" in documented


# ---------------------------------------------------------------------------- unreachable callback URLs


@pytest.mark.parametrize("url", ["http://localhost:8000/cb", "https://127.0.0.1/cb", "http://[::1]/cb"])
def test_a_loopback_callback_sent_to_kie_ai_warns(
    make_harness: typing.Any, mode: str, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    h = make_harness(mode, allow_http_callback=True)
    with pytest.warns(kie.LoopbackCallbackWarning, match="kie.ai cannot reach") as caught:
        h("create_task", [image_bytes("PNG")], "p", callback_url=url)
    assert issubclass(caught[0].category, kie.KieWarning)
    assert issubclass(kie.KieWarning, UserWarning)
    assert any("kie.ai cannot reach" in r.getMessage() for r in caplog.records)
    assert len(h.fake.calls("create")) == 1, "a warning, not a refusal"


def test_the_warning_points_at_the_users_line(fake_kie: FakeKie) -> None:
    client = kie.Client(
        api_key=KEY, transport=httpx.MockTransport(fake_kie.handler), allow_http_callback=True
    )
    with pytest.warns(kie.LoopbackCallbackWarning) as caught:
        client.create_task([image_bytes("PNG")], "p", callback_url="http://localhost/cb")
    assert caught[0].filename == __file__


@pytest.mark.anyio
async def test_the_async_warning_points_at_the_users_line(fake_kie: FakeKie) -> None:
    async with kie.AsyncClient(
        api_key=KEY, transport=httpx.MockTransport(fake_kie.handler), allow_http_callback=True
    ) as client:
        with pytest.warns(kie.LoopbackCallbackWarning) as caught:
            await client.edit([image_bytes("PNG")], "p", callback_url="http://localhost/cb", wait=False)
    assert caught[0].filename == __file__


@pytest.mark.parametrize("url", ["https://me.example/cb", "https://10.0.0.5/cb"])
def test_a_public_callback_does_not_warn(harness: Harness, url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        harness("create_task", [image_bytes("PNG")], "p", callback_url=url)


def test_a_loopback_callback_with_a_loopback_api_does_not_warn() -> None:
    with Emulator(schedule=Schedule.instant()) as emulator, warnings.catch_warnings():
        warnings.simplefilter("error")
        with emulator.client(allow_http_callback=True) as client:
            client.create_task([image_bytes("PNG")], "p", callback_url="http://127.0.0.1:9/cb")
