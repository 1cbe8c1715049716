"""Every fenced python and bash block of README.md and docs/ runs (issue 17, issue 24 item 14).

How each block runs is written above it in the page (``<!-- docs-test: MODE: why -->``); the modes are
described in ``tests/docs/doc_blocks.py``. The default runs a block as a reader pastes it, against a
loopback emulator pointed at by the environment alone.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import hashlib
import hmac
import inspect
import os
import shlex
import socket
import subprocess
import time
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from doc_blocks import ROOT, Block, page_blocks, pages
from PIL import Image

from kie_gpt_image.emulator import Emulator, Fault, Schedule
from kie_gpt_image.emulator._run import announcement

pytest_plugins = ["pytester"]

IMAGES = ("person.jpg", "person.png", "dress.png", "photo.png", "tests/photo.png")
# The repository root as a reader's checkout: what the shell blocks name, linked (out/ is the sandbox's).
CHECKOUT = (".venv", ".ci", "examples", "scripts", "docs", "facade", "generated", "openapi", "mkdocs.yml")
CHECKOUT_FILES = ("README.md", "pyproject.toml")
ALL = {page.relative_to(ROOT).as_posix(): page_blocks(page) for page in pages()}


def _tests_defined(code: str) -> list[str]:
    return [
        node.name
        for node in ast.parse(code).body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
    ]


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(schedule=Schedule.instant())


@pytest.fixture
def reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> Iterator[Path]:
    """A folder holding the images the blocks name, the environment pointing at the emulator on loopback
    (the lines ``kie-gpt-image emulator`` prints), and a checkout of the repository beside it."""
    work = tmp_path / "work"
    for name in IMAGES:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (48, 64), "navy").save(work / name)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in (*CHECKOUT, *CHECKOUT_FILES):
        (checkout / name).symlink_to(ROOT / name)
    monkeypatch.chdir(work)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    with emulator, emulator.serve(port=0) as server:
        monkeypatch.setenv("KIE_API_KEY", emulator.api_key)
        monkeypatch.setenv("KIE_BASE_URL", server.base_url)
        monkeypatch.setenv("KIE_UPLOAD_BASE_URL", server.upload_base_url)
        monkeypatch.setenv("KIE_WEBHOOK_HMAC_KEY", emulator.webhook_hmac_key)
        yield checkout


# ------------------------------------------------------------------------------------------ modes


def _run_session(blocks: list[Block]) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "docs"}
    with asyncio.Runner() as loop:
        for block in blocks:
            compiled = compile(block.code, block.origin, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            outcome = eval(compiled, namespace)  # noqa: S307 - our own docs
            if inspect.iscoroutine(outcome):
                loop.run(outcome)
    return namespace


def _free_ports(count: int) -> int:
    """A first port with ``count - 1`` free ports after it (the emulator serves on three in a row)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        if first + count > 65535:
            continue
        try:
            for port in range(first + 1, first + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise AssertionError("no run of free loopback ports")


def _bash(code: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{cwd / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("KIE_LOG", None)
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + code
    return subprocess.run(  # noqa: S603 - our own docs, in a sandbox
        ["/bin/bash", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _run_shell(block: Block, checkout: Path) -> None:
    first = _free_ports(3)
    code = block.code
    for documented, port in zip(("8787", "8788", "8789"), range(first, first + 3), strict=True):
        code = code.replace(documented, str(port))
    # An emulator the block starts finishes each task at once (its default is about 2 s a task).
    code = code.replace("kie-gpt-image emulator --port ", "kie-gpt-image emulator --durations 0 0 --port ")
    run = _bash(code, checkout)
    assert run.returncode == 0, f"{block.origin}\n{run.stdout}\n{run.stderr}"


def _run_real_kie(block: Block, checkout: Path) -> None:
    if block.language == "python":
        _run_session([block])
        return
    code = block.code.replace("KIE_API_KEY=...", f"KIE_API_KEY={shlex.quote(os.environ['KIE_API_KEY'])}")
    run = _bash(code, checkout)
    assert run.returncode == 0, f"{block.origin}\n{run.stdout}\n{run.stderr}"
    assert "wrote " in run.stdout, run.stdout


def _commands(block: Block) -> list[str]:
    return [line.split("#")[0].strip() for line in block.code.splitlines() if line.split("#")[0].strip()]


def _run_install(block: Block) -> None:
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for line in _commands(block):
        words = shlex.split(line)
        assert words[:2] == ["pip", "install"], f"{block.origin}: {line}"
        requirement = Requirement(words[2])
        assert requirement.name == project["name"], line
        assert requirement.extras <= set(project["optional-dependencies"]), line


def _run_commands(block: Block, checkout: Path) -> None:
    for line in _commands(block):
        if line == "./scripts/check":
            # This test runs inside ./scripts/check: running it again here would never end.
            assert os.access(ROOT / "scripts" / "check", os.X_OK)
            ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
            assert ci.strip().endswith("exec bash scripts/check")
        elif line == "./scripts/demo":
            run = _bash(line, checkout)
            assert run.returncode == 0, run.stdout + run.stderr
            (written,) = [line for line in run.stdout.splitlines() if line.startswith("wrote ")]
            assert (checkout / written.removeprefix("wrote ")).read_bytes().startswith(b"\x89PNG")
        else:
            raise AssertionError(f"{block.origin}: no harness for {line!r}")


def _run_emulator_exports(block: Block) -> None:
    emulator = Emulator()
    with emulator, emulator.serve(port=0) as server:
        printed = [line for line in announcement(emulator, server) if line.startswith("export ")]
        documented = {
            server.base_url: "http://127.0.0.1:8787",
            server.upload_base_url: "http://127.0.0.1:8788",
        }
    for real, shown in documented.items():
        printed = [line.replace(real, shown) for line in printed]
    assert _commands(block) == printed


def _run_site(block: Block, checkout: Path) -> None:
    for line in _commands(block):
        words = shlex.split(line)
        assert words[0] == ".venv/bin/mkdocs", line
        if words[1] == "build":
            # The site is built with exactly these options by scripts/check and tests/docs/test_site.py.
            assert f"mkdocs {' '.join(words[1:])} " in (ROOT / "scripts" / "check").read_text(
                encoding="utf-8"
            )
            continue
        assert words[1:] == ["serve"], line
        port = _free_ports(1)
        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
        with subprocess.Popen(  # noqa: S603 - the pinned mkdocs, offline, on loopback
            [*words, "--dev-addr", f"127.0.0.1:{port}", "--no-livereload"],
            cwd=checkout,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        ) as server:
            try:
                deadline = time.monotonic() + 120
                while True:
                    try:
                        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                        break
                    except httpx.TransportError:
                        assert server.poll() is None, server.stderr.read() if server.stderr else ""
                        assert time.monotonic() < deadline, "mkdocs serve never answered"
                        time.sleep(0.2)
                assert page.status_code == 200
                assert "<title>kie-gpt-image</title>" in page.text
            finally:
                server.terminate()


def _run_notebook(blocks: list[Block]) -> tuple[list[Any], list[BaseException | None]]:
    """Run the cells in one IPython shell, as a Jupyter kernel does; what they displayed and raised."""
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    shown: list[Any] = []

    class Recorder(DisplayPublisher):
        def publish(self, data: Any, *args: Any, **kwargs: Any) -> None:
            shown.append(data)

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config, display_pub_class=Recorder)
    errors: list[BaseException | None] = []
    try:
        for block in blocks:
            result = shell.run_cell(block.code, store_history=False)
            errors.append(result.error_before_exec or result.error_in_exec)
    finally:
        InteractiveShell.clear_instance()
    return shown, errors


def _run_fastapi(blocks: list[Block], emulator: Emulator) -> None:
    from starlette.exceptions import StarletteDeprecationWarning

    with warnings.catch_warnings():
        # starlette 1.x asks for its httpx fork (httpx2); the library pins httpx, which it still takes.
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from fastapi.testclient import TestClient

    app_module = types.ModuleType("recipe_app")
    exec(compile("\n".join(b.code for b in blocks), blocks[0].origin, "exec"), app_module.__dict__)  # noqa: S102
    photo = (ROOT / "examples" / "samples" / "person.png").read_bytes()
    with TestClient(app_module.app) as http:
        posted = http.post(
            "/edits", files={"photo": ("person.png", photo, "image/png")}, data={"prompt": "Make it green"}
        )
        assert posted.status_code == 202, posted.text
        task_id = posted.json()["task_id"]
        # The background task ran after the 202 (TestClient returns once the app is done).
        job = http.get(f"/edits/{task_id}").json()
        assert job["state"] == "success", job
        assert [Path(f).read_bytes()[:4] for f in job["files"]] == [b"\x89PNG"]
        refused = http.post(
            "/edits", files={"photo": ("a.txt", b"not an image", "text/plain")}, data={"prompt": "x"}
        )
        assert refused.status_code == 422, refused.text
        assert http.get("/edits/no-such-task").status_code == 404
        # kie.ai's callback for the task, signed with the account's webhook key, and a forged one.
        stamp = str(int(time.time()))
        key = emulator.webhook_hmac_key.encode()
        signature = base64.b64encode(hmac.new(key, f"{task_id}.{stamp}".encode(), hashlib.sha256).digest())
        body = {"code": 200, "msg": "success", "data": {"taskId": task_id, "state": "success"}}
        headers = {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": signature.decode()}
        answered = http.post("/kie/callback", json=body, headers=headers)
        assert answered.status_code == 200, answered.text
        assert answered.json() == {"task_id": task_id, "state": "success"}
        forged = http.post("/kie/callback", json=body, headers={**headers, "X-Webhook-Signature": "AAAA"})
        assert forged.status_code == 401, forged.text
    assert emulator.call_count("gpt-image-1-5-image-to-image") == 1


# ------------------------------------------------------------------------------------------- tests


def test_every_page_block_is_found_with_a_known_mode() -> None:
    blocks = [block for page in ALL.values() for block in page]
    assert len([b for b in blocks if b.page == "README.md"]) >= 15
    for block in blocks:
        defines_tests = bool(_tests_defined(block.code)) if block.language == "python" else False
        assert defines_tests == (block.mode == "pytest"), (
            f"{block.origin}: mark test blocks docs-test: pytest"
        )
        if block.mode not in ("session", "shell"):
            assert block.why, f"{block.origin}: say why the block runs as {block.mode}"


# A page's session, notebook and app blocks run together (they share names); each other block is a test
# of its own, so that the slow ones (a CLI session, mkdocs serve, the demo) spread over test processes.
TOGETHER = ("session", "notebook", "fastapi", "pytest")
ALONE = [b for page in ALL.values() for b in page if not b.included and b.mode not in TOGETHER]
PAGES = [
    page for page, blocks in ALL.items() if any(not b.included and b.mode in TOGETHER[:3] for b in blocks)
]


@pytest.mark.parametrize("page", PAGES)
def test_the_blocks_of_the_page_run(page: str, reader: Path, emulator: Emulator) -> None:
    blocks = [block for block in ALL[page] if not block.included]  # included: run with README.md
    _run_session([b for b in blocks if b.mode == "session"])
    if notebook := [b for b in blocks if b.mode == "notebook"]:
        shown, errors = _run_notebook(notebook)
        assert errors == [None] * len(notebook), errors
        assert shown, "display() showed nothing"
        # A kernel sends PNG data base64-encoded; a ``_repr_png_`` may hand this shell the bytes themselves.
        assert all(_png(data["image/png"]).startswith(b"\x89PNG") for data in shown), shown
    if app := [b for b in blocks if b.mode == "fastapi"]:
        _run_fastapi(app, emulator)


@pytest.mark.parametrize("block", ALONE, ids=[f"{b.origin} {b.mode}" for b in ALONE])
def test_the_block_runs(block: Block, reader: Path) -> None:
    if block.mode == "shell":
        _run_shell(block, reader)
    elif block.mode == "real-kie":
        _run_real_kie(block, reader)
    elif block.mode == "install":
        _run_install(block)
    elif block.mode == "commands":
        _run_commands(block, reader)
    elif block.mode == "emulator-exports":
        _run_emulator_exports(block)
    else:
        assert block.mode == "site", block
        _run_site(block, reader)


def _png(data: str | bytes) -> bytes:
    return data if isinstance(data, bytes) else base64.b64decode(data)


def test_the_notebook_shows_a_failed_edit_of_a_gather(
    reader: Path, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    cells = [b for b in ALL["docs/recipes/notebook.md"] if b.mode == "notebook"]
    gather = next(i for i, cell in enumerate(cells) if "asyncio.gather" in cell.code)
    # Each client.edit( creates one task; the page's edit_many cell creates one per prompt (three).
    creates_before = sum(
        cell.code.count("client.edit(") + 3 * cell.code.count("edit_many(") for cell in cells[:gather]
    )
    emulator.faults.on("gpt-image-1-5-image-to-image", creates_before + 2, Fault.body_code(422))
    _, errors = _run_notebook(cells)
    failed = errors[gather]
    assert isinstance(failed, BaseExceptionGroup), errors
    assert len(failed.exceptions) == 1
    assert [e for i, e in enumerate(errors) if i != gather] == [None] * (len(cells) - 1)
    out = capsys.readouterr().out
    # What the gather cell printed: after the edit_many cell's last item ("[3/3] ..." and its line).
    gathered = out[out.rindex("[3/3]") :].split("\n", 2)[2]
    assert gathered.count("-> ('http") == 2, out  # the other two results are shown before the error


def test_the_pytest_blocks_pass(pytester: pytest.Pytester) -> None:
    blocks = [b for page in ALL.values() for b in page if b.mode == "pytest" and not b.included]
    assert len(blocks) >= 3
    for name in IMAGES:
        (pytester.path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (48, 64), "navy").save(pytester.path / name)
    names = {}
    for n, block in enumerate(blocks):
        pytester.makepyfile(**{f"test_block_{n}": block.code})
        names.update(dict.fromkeys(_tests_defined(block.code), block.origin))
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--strict-markers",
        "-W",
        "error",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
    )
    passed = {
        report.nodeid.split("::")[-1].split("[")[0]
        for report in result.reprec.getreports()
        if report.passed and report.when == "call"
    }  # type: ignore[attr-defined]
    outcomes = result.parseoutcomes()
    assert not outcomes.get("failed"), result.stdout.str()
    assert not outcomes.get("errors"), result.stdout.str()
    assert set(names) <= passed, {name: origin for name, origin in names.items() if name not in passed}


def test_a_block_that_fails_fails_its_test(reader: Path) -> None:
    with pytest.raises(ZeroDivisionError):
        _run_session([Block("x.md", "x.md:1", "python", "session", "", "total = 1 / 0\n")])
    with pytest.raises(AssertionError, match=r"x\.md:2"):
        _run_shell(Block("x.md", "x.md:2", "bash", "shell", "", "kie-gpt-image credits\nfalse\n"), reader)
