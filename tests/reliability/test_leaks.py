"""The API key never leaks (style.md point 15): a distinctive key is used across a representative run on
loopback (success, retries, every error kind, callbacks, downloads, the CLI) and then searched for in
every log record (all loggers at DEBUG, httpx and httpcore included), every repr/str/vars() of clients,
results and errors, every traceback text, and every request that went to a host that is not kie.ai."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import secrets
import threading
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from PIL import Image

import kie_gpt_image as kie
from kie_gpt_image.emulator import Emulator, Fault, Outcome, Schedule
from kie_gpt_image.webhooks import verify_callback

KEY = f"sk-LEAKCHECK-{secrets.token_hex(12)}"
WRONG_KEY = f"sk-LEAKCHECK-WRONG-{secrets.token_hex(12)}"
SECRETS = (KEY, WRONG_KEY)
FAST = kie.PollPolicy(early_interval=0.01, middle_interval=0.01, late_interval=0.01, timeout=5)
CREATE = "gpt-image-1-5-image-to-image"


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _texts_of(obj: object, seen: set[int] | None = None, depth: int = 0) -> list[str]:
    """repr, str, vars() (or its slots), and the same for its public attributes, recursively."""
    seen = seen if seen is not None else set()
    if id(obj) in seen or depth > 4 or isinstance(obj, (str, bytes, int, float, type(None))):
        return [repr(obj)] if isinstance(obj, (str, bytes)) else []
    seen.add(id(obj))
    texts = [repr(obj), str(obj)]
    attributes: dict[str, Any] = {}
    try:
        attributes.update(vars(obj))
    except TypeError:
        pass
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if hasattr(obj, slot):
                attributes[slot] = getattr(obj, slot)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            attributes.setdefault(f.name, getattr(obj, f.name))
    texts.append(repr(attributes))
    for name, value in attributes.items():
        # Public attributes are followed; private ones are shown only through the repr above (the key's
        # holder reprs as "<API key hidden>": unwrapping it by force is not a leak).
        if not name.startswith("_"):
            texts += _texts_of(value, seen, depth + 1)
    return texts


def _error_texts(error: BaseException) -> list[str]:
    texts = _texts_of(error) + traceback.format_exception(error)
    cause = error.__cause__ or error.__context__
    while cause is not None:
        texts += [repr(cause), str(cause)]
        cause = cause.__cause__ or cause.__context__
    return texts


def _library_frame_locals(error: BaseException) -> list[str]:
    """Locals of kie_gpt_image frames in the traceback (and its causes), as an error reporter that
    captures locals (Sentry, rich) would show them."""
    texts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        summary = traceback.TracebackException.from_exception(current, capture_locals=True)
        for frame in summary.stack:
            if "kie_gpt_image" in frame.filename and frame.locals:
                texts += [f"{frame.name}: {name}={value}" for name, value in frame.locals.items()]
        current = current.__cause__ or current.__context__
    return texts


def _assert_clean(texts: list[str], where: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"the API key leaked into {where}: {text[:300]}"


class Run:
    """Collects everything the user or a log could see during the run."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.errors: list[BaseException] = []

    def see(self, *objects: object) -> None:
        for obj in objects:
            self.texts += _texts_of(obj)

    def expect(self, error: type[kie.KieError], call: Callable[[], object]) -> None:
        with pytest.raises(error) as caught:
            call()
        self.errors.append(caught.value)
        self.texts += _error_texts(caught.value)


def test_the_key_appears_nowhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, receiver: str, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    run = Run()
    emulator = Emulator(
        api_key=KEY,
        schedule=Schedule.instant(),
        rate_limit=10**6,
        poll_limit=10**6,
        outcome=lambda body: (
            Outcome.fail("422", "Invalid prompt") if body["input"]["prompt"] == "fail" else Outcome()
        ),
    )
    with emulator, emulator.serve(port=0) as server:
        options: dict[str, Any] = {
            "api_key": KEY,
            "base_url": server.base_url,
            "upload_base_url": server.upload_base_url,
            "timeout": httpx.Timeout(0.5),
            "poll_policy": FAST,
            "allow_http_callback": True,
            "sleep": lambda seconds: None,
        }
        faults = emulator.faults
        with kie.Client(**options) as client:
            run.see(client)
            # Success with retries on the way: upload 502, create 429, poll 500, download dropped.
            faults.on("upload-file-stream", 1, Fault.http_error(502))
            faults.on(CREATE, 1, Fault.body_code(429, retry_after="0"))
            faults.on("get-task-details", 1, Fault.body_code(500))
            faults.on("files", 1, Fault.drop_after())
            result = client.edit([_png()], "make it blue", callback_url=receiver)
            paths = result.save(tmp_path / "out")
            run.see(result, result.info, paths, client.upload(_png(), method="base64"), client.credits())
            run.see(client.download_url(result.urls[0]), client.get_task(result.task_id))
            faults.clear()
            # Every error kind.
            run.expect(kie.InvalidInputError, lambda: client.edit([_png()], "p", aspect_ratio="9:9"))
            run.expect(kie.TaskFailedError, lambda: client.edit([_png()], "fail"))
            faults.on(CREATE, None, Fault.drop_after())
            run.expect(kie.SubmissionOutcomeUnknownError, lambda: client.create_task([_png()], "p"))
            faults.clear()
            faults.on("get-account-credits", None, Fault.body_code(500))
            run.expect(kie.ServerError, client.credits)
            faults.on("get-account-credits", None, Fault.body_code(505))
            run.expect(kie.FeatureDisabledError, client.credits)
            faults.on("get-account-credits", None, Fault.delay(1.0))
            run.expect(kie.RequestTimeoutError, client.credits)
            faults.on("get-account-credits", None, Fault.drop_before())
            run.expect(kie.TransportError, client.credits)
            faults.on("get-account-credits", None, Fault.non_json())
            run.expect(kie.UnexpectedResponseError, client.credits)
            faults.clear()
            faults.on("get-task-details", None, Fault.unknown_state("canceled"))
            run.expect(kie.WaitTimeoutError, lambda: client.wait(result.task_id, timeout=0.05))
            faults.clear()
            faults.on("files", None, Fault.http_error(502))
            run.expect(kie.DownloadError, lambda: result.save(tmp_path / "again"))
            faults.clear()
            run.expect(kie.NotFoundError, lambda: client.get_task("task_missing"))
        with kie.Client(**{**options, "max_download_bytes": 10}) as small:
            run.expect(kie.ResultTooLargeError, lambda: small.download(result.info, tmp_path / "small"))
        with kie.Client(**{**options, "api_key": WRONG_KEY}) as wrong:
            run.see(wrong)
            run.expect(kie.AuthenticationError, wrong.credits)

        async def async_run() -> None:
            async def nap(seconds: float) -> None:
                return None

            async with kie.AsyncClient(**{**options, "sleep": nap}) as aclient:
                run.see(aclient)
                faults.on("get-task-details", 1, Fault.http_error(502))
                aresult = await aclient.edit([_png()], "async")
                run.see(aresult, await aresult.bytes())
                faults.clear()
                faults.on("get-account-credits", None, Fault.body_code(500))
                try:
                    await aclient.credits()
                except kie.ServerError as exc:
                    run.errors.append(exc)
                    run.texts += _error_texts(exc)
                faults.clear()

        asyncio.run(async_run())

        # Callbacks: signed with the webhook key, never the API key; verified into a TaskInfo.
        deadline = 50
        while not _Receiver.received and deadline:
            threading.Event().wait(0.05)
            deadline -= 1
        assert _Receiver.received, "no callback arrived"
        for head, body in _Receiver.received:
            assert "authorization" not in {name.lower() for name in head}
            _assert_clean([json.dumps(head), body.decode("utf-8", "replace")], "a callback request")
            run.see(verify_callback(body, head, emulator.webhook_hmac_key))

        # Requests to hosts that are not kie.ai (the file host) carry no credentials at all.
        exchanges = emulator.exchanges
    foreign = [x for x in exchanges if x.endpoint == "files"]
    assert len(foreign) >= 4
    for exchange in foreign:
        assert "authorization" not in exchange.request.headers
        _assert_clean(
            [str(exchange.request.url), repr(exchange.request.headers.raw)], "a request to the file host"
        )
    # ...while every kie.ai request did carry the key (the scan above is not vacuous).
    assert any(x.request.headers.get("authorization") == f"Bearer {KEY}" for x in exchanges)

    assert len(run.errors) >= 14
    _assert_clean(run.texts, "a repr/str/vars() or a traceback")
    records = caplog.records
    assert any(r.name.startswith("httpx") for r in records)
    assert any(r.name == "kie_gpt_image" for r in records)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s %(args)s")
    _assert_clean(
        [formatter.format(r) for r in records] + [repr(r.__dict__) for r in records], "a log record"
    )
    captured = capsys.readouterr()
    _assert_clean([captured.out, captured.err], "stdout/stderr")


def test_the_key_is_not_in_library_frame_locals() -> None:
    emulator = Emulator(api_key=KEY, schedule=Schedule.instant())
    emulator.faults.on("get-account-credits", None, Fault.drop_after())
    with emulator, emulator.client(sleep=lambda seconds: None) as client:
        with pytest.raises(kie.TransportError) as caught:
            client.credits()
    _assert_clean(_library_frame_locals(caught.value), "a library frame's locals")


def _cli_main() -> Callable[..., int] | None:
    try:
        from kie_gpt_image._cli import Context, main
    except ImportError:
        return None
    return lambda argv, **ctx: main(argv, context=Context(**ctx))


@pytest.mark.skipif(_cli_main() is None, reason="the CLI (kie_gpt_image._cli.main) is not available")
def test_the_cli_never_prints_the_key(tmp_path: Path) -> None:
    main = _cli_main()
    assert main is not None
    image = tmp_path / "in.png"
    image.write_bytes(_png())
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    emulator = Emulator(api_key=KEY, schedule=Schedule.instant())
    with emulator, emulator.serve(port=0) as server:
        hosts = ["--base-url", server.base_url, "--upload-base-url", server.upload_base_url]
        runs = [
            (
                ["--debug", "edit", str(image), "-p", "blue", "-o", str(tmp_path / "out"), *hosts],
                {"KIE_API_KEY": KEY},
            ),
            (["--json", "--debug", "credits", *hosts], {"KIE_API_KEY": KEY}),
            (["--api-key-file", str(key_file), "status", "task_missing", *hosts], {}),
            (["--debug", "credits", *hosts], {"KIE_API_KEY": WRONG_KEY}),
        ]
        emulator.faults.on("get-task-details", 1, Fault.http_error(502))
        outputs: list[str] = []
        codes = []
        for argv, env in runs:
            stdout, stderr = io.StringIO(), io.StringIO()
            codes.append(main(argv, env=env, stdout=stdout, stderr=stderr, tty=False, sleep=lambda s: None))
            outputs += [stdout.getvalue(), stderr.getvalue()]
    assert [code == 0 for code in codes] == [True, True, False, False], (codes, outputs)
    assert any("task_" in text for text in outputs)
    _assert_clean(outputs, "the CLI's output")
