"""Every way a reply can go wrong becomes the right typed error (never a bare builtin error)."""

from __future__ import annotations

import httpx
import pytest
from contract import merged_spec
from fake_kie import FakeKie, Harness, envelope, image_bytes, record

import kie_gpt_image as kie
from kie_gpt_image._replies import ERRORS_BY_CODE

SPEC_CODES = merged_spec()["components"]["schemas"]["ApiResponse"]["properties"]["code"]["enum"]

EXPECTED = {
    400: kie.BadRequestError,
    401: kie.AuthenticationError,
    402: kie.InsufficientCreditsError,
    404: kie.NotFoundError,
    408: kie.UpstreamTimeoutError,
    422: kie.UnprocessableRequestError,
    429: kie.RateLimitError,
    433: kie.UsageCapExceededError,
    455: kie.MaintenanceError,
    500: kie.ServerError,
    501: kie.GenerationFailedError,
    505: kie.FeatureDisabledError,
}


def test_every_code_the_spec_lists_has_an_error_class() -> None:
    missing = [c for c in SPEC_CODES if c != 200 and c not in ERRORS_BY_CODE]
    assert missing == []
    assert {c: ERRORS_BY_CODE[c] for c in EXPECTED} == EXPECTED


def _reply(code: int, variant: str) -> httpx.Response:
    if variant == "body":
        return envelope(code, None, msg=f"message {code}")
    if variant == "http":
        return httpx.Response(code, json={"msg": f"message {code}"})
    return envelope(code, None, msg=f"message {code}", status=code)


@pytest.mark.parametrize("variant", ["body", "http", "both"])
@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_each_code_maps_to_its_class_however_it_arrives(harness: Harness, code: int, variant: str) -> None:
    harness.client._driver.flows = harness.client._driver.flows.__class__(  # no retries: one reply, one error
        retry=kie.RetryPolicy(max_retries=0),
        poll=harness.client.poll_policy,
        clock=harness.clock,
        rand=lambda: 0.5,
        upload_path="x",
    )
    harness.fake.script("credit", _reply(code, variant))
    with pytest.raises(EXPECTED[code]) as caught:
        harness("credits")
    assert caught.value.code == code
    assert f"message {code}" in str(caught.value)
    assert isinstance(caught.value, kie.APIError)


def test_unknown_code_keeps_its_number(harness: Harness) -> None:
    harness.fake.script("record", envelope(403, None, msg="forbidden"))
    with pytest.raises(kie.APIError) as caught:
        harness("get_task", "task_1")
    assert type(caught.value) is kie.APIError
    assert caught.value.code == 403
    assert caught.value.task_id == "task_1"


def test_message_field_spelled_message_is_read(harness: Harness) -> None:
    harness.fake.script(
        "record", httpx.Response(200, json={"code": 404, "message": "task not found", "data": None})
    )
    with pytest.raises(kie.NotFoundError, match="task not found"):
        harness("get_task", "task_1")


def test_recordinfo_is_null_variant(harness: Harness) -> None:
    harness.fake.script("record", envelope(422, None, msg="recordInfo is null"))
    with pytest.raises(kie.UnprocessableRequestError, match="recordInfo is null"):
        harness("get_task", "task_x")


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (envelope(200, None), kie.UnexpectedResponseError),  # data: null on success
        (
            httpx.Response(200, content=b'{"code": 200, "msg": "success", "data": {"taskId": "t'),
            kie.UnexpectedResponseError,
        ),
        (httpx.Response(200, content=b"<html>hello</html>"), kie.UnexpectedResponseError),
        (httpx.Response(200, json=[1, 2]), kie.UnexpectedResponseError),
        (httpx.Response(200, json={"msg": "no code"}), kie.UnexpectedResponseError),
        (httpx.Response(200, json={"code": 200, "data": "not a record"}), kie.UnexpectedResponseError),
        (httpx.Response(200, json={"code": 200, "data": {"taskId": 5, "state": ["x"]}}), None),
        (httpx.Response(502, content=b"<html><body>502 Bad Gateway</body></html>"), kie.ServerError),
        (httpx.Response(520, content=b"<html>origin error</html>"), kie.ServerError),
        (httpx.Response(455, json={"code": 455, "msg": "maintenance"}), kie.MaintenanceError),
        (httpx.Response(520, json={"code": 520, "msg": "odd"}), kie.ServerError),
        (httpx.Response(200, json={"code": "500", "msg": "as string"}), kie.ServerError),
    ],
    ids=[
        "data-null",
        "truncated-json",
        "non-json",
        "json-array",
        "no-code",
        "data-not-object",
        "weird-field-types",
        "html-502",
        "html-520",
        "status-455",
        "status-520-envelope",
        "code-as-string",
    ],
)
def test_malformed_replies_become_typed_errors(
    fake_kie: FakeKie,
    make_harness,
    mode: str,
    reply: httpx.Response,
    error: type[Exception] | None,  # type: ignore[no-untyped-def]
) -> None:
    h = make_harness(mode, max_retries=0)
    fake_kie.script("record", reply)
    if error is None:
        info = h("get_task", "task_1")  # wrong types degrade to "unknown", never crash
        assert info.state is kie.TaskState.UNKNOWN
        return
    with pytest.raises(error) as caught:
        h("get_task", "task_1")
    assert caught.value.task_id == "task_1"
    assert not isinstance(caught.value, (ValueError, TypeError, KeyError))


def test_html_error_page_is_attached_truncated(fake_kie: FakeKie, make_harness, mode: str) -> None:  # type: ignore[no-untyped-def]
    h = make_harness(mode, max_retries=0)
    fake_kie.script("record", httpx.Response(502, content=b"<html>" + b"x" * 5000 + b"</html>"))
    with pytest.raises(kie.ServerError) as caught:
        h("get_task", "task_1")
    assert caught.value.body.startswith("<html>xxx")
    assert len(caught.value.body) < 600
    assert caught.value.status_code == 502


def test_transport_failures_become_our_errors(fake_kie: FakeKie, make_harness, mode: str) -> None:  # type: ignore[no-untyped-def]
    h = make_harness(mode, max_retries=0)
    fake_kie.script("record", httpx.ReadTimeout("read timed out"))
    with pytest.raises(kie.RequestTimeoutError) as caught:
        h("get_task", "task_1")
    assert caught.value.task_id == "task_1"
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    fake_kie.script("credit", httpx.RemoteProtocolError("peer closed connection"))
    with pytest.raises(kie.TransportError):
        h("credits")


def test_upload_error_envelope(harness: Harness) -> None:
    harness.fake.script(
        "upload-stream", httpx.Response(200, json={"success": False, "code": 401, "msg": "bad key"})
    )
    with pytest.raises(kie.AuthenticationError):
        harness("upload", image_bytes("PNG"))


def test_record_data_null_on_success_for_wait(harness: Harness) -> None:
    harness.client._driver.flows = harness.client._driver.flows.__class__(
        retry=kie.RetryPolicy(max_retries=0),
        poll=harness.client.poll_policy,
        clock=harness.clock,
        rand=lambda: 0.5,
        upload_path="x",
    )
    harness.fake.script("record", envelope(200, None))
    with pytest.raises(kie.UnexpectedResponseError) as caught:
        harness("wait", "task_7")
    assert caught.value.task_id == "task_7"


def test_all_errors_share_one_root() -> None:
    for name in kie.__all__:
        obj = getattr(kie, name)
        if isinstance(obj, type) and issubclass(obj, Warning):
            assert issubclass(obj, kie.KieWarning), name
        elif isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, kie.KieError), name
            assert obj.__name__.endswith("Error"), name


def test_record_parser_survives_a_record_full_of_wrong_types(harness: Harness) -> None:
    harness.fake.script(
        "record",
        envelope(data=record("success", resultJson="{not json", param=7, createTime="soon", costTime=True)),
    )
    info = harness("get_task", "task_1")
    assert info.result_urls == ()
    assert info.param is None
    assert info.created_at is None
    assert info.cost_time_ms is None


def test_resume_hint_only_where_waiting_again_can_help(harness: Harness) -> None:
    harness.fake.script("record", envelope(404, None, msg="Task not found"))
    with pytest.raises(kie.NotFoundError) as caught:
        harness("get_task", "task_gone")
    assert "task_gone" in str(caught.value)
    assert "client.wait" not in str(caught.value)
    harness.fake.script("record", *[httpx.ConnectError("down") for _ in range(3)])
    with pytest.raises(kie.TransportError) as transport:
        harness("get_task", "task_1")
    assert "resume with client.wait('task_1')" in str(transport.value)
