"""The pytest plugin (kie_gpt_image.pytest_plugin), exercised the way a user meets it: a fresh test file
in a fresh project, run by a fresh pytest session (pytester's in-process run: a new config and plugin
manager) that finds the plugin through the installed distribution's ``pytest11`` entry point. Whether
importing the library loads pytest is checked in a separate interpreter."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "examples" / "samples" / "person.png"
# What a strict user runs with: unknown markers and any warning fail the run. pytest-asyncio (a dev pin)
# loads too and warns at start-up unless its fixture loop scope is set.
STRICT = (
    "-p",
    "no:cacheprovider",
    "--strict-markers",
    "-W",
    "error",
    "-o",
    "asyncio_default_fixture_loop_scope=function",
)

USER_TESTS = """
import time
from pathlib import Path

import pytest

import kie_gpt_image as kie
from kie_gpt_image.emulator import Fault, FaultPlan, Outcome, Schedule

PHOTO = Path(__file__).with_name("photo.png")


def test_three_lines(kie_client, tmp_path):
    paths = kie_client.edit([PHOTO], "make it blue").save(tmp_path)
    assert paths[0].read_bytes().startswith(b"\\x89PNG")


@pytest.mark.kie_emulator(outcome=lambda body: Outcome.fail("500", "blocked by the content policy"))
def test_failed_task(kie_client, kie_emulator):
    with pytest.raises(kie.TaskFailedError) as caught:
        kie_client.edit([PHOTO], "make it blue")
    assert caught.value.fail_code == "500"
    assert caught.value.fail_msg == "blocked by the content policy"
    assert caught.value.task_id
    assert kie_emulator.credits == 1000  # kie.ai charges nothing for a failed task


@pytest.mark.kie_emulator(faults=FaultPlan().on("get-task-details", 1, Fault.http_error(502)))
def test_fault_from_the_marker_is_retried(kie_client, kie_emulator):
    kie_client.edit([PHOTO], "make it blue")
    assert kie_emulator.call_count("get-task-details") == 2
    polls = [x for x in kie_emulator.exchanges if x.endpoint == "get-task-details"]
    assert [x.response.status_code for x in polls] == [502, 200]


def test_fault_added_in_the_test(kie_client, kie_emulator):
    kie_emulator.faults.on("gpt-image-1-5-image-to-image", 1, Fault.body_code(402))
    with pytest.raises(kie.InsufficientCreditsError):
        kie_client.edit([PHOTO], "make it blue")


@pytest.mark.kie_emulator(credits=3, task_cost=2)
def test_emulator_options_pass_through(kie_client):
    assert kie_client.credits() == 3
    kie_client.edit([PHOTO], "make it blue")
    assert kie_client.credits() == 1
    with pytest.raises(kie.InsufficientCreditsError):
        kie_client.edit([PHOTO], "make it blue")


@pytest.mark.kie_emulator(credits=50)
class TestClassMarker:
    @pytest.mark.kie_emulator(task_cost=10)
    def test_closest_marker_wins_and_both_apply(self, kie_client):
        kie_client.edit([PHOTO], "make it blue")
        assert kie_client.credits() == 40


@pytest.mark.kie_emulator(schedule=Schedule(waiting=5, queuing=20, generating=60))
def test_a_slow_schedule_runs_on_virtual_time(kie_client, kie_emulator):
    states = []
    started = time.monotonic()
    kie_client.edit([PHOTO], "make it blue", on_progress=lambda info: states.append(str(info.state)))
    assert time.monotonic() - started < 5  # 85 s of task, no real waiting
    assert states == ["waiting", "queuing", "generating", "success"]
    # kie.ai's schedule: every 2 s for 30 s (16 polls), then every 5 s up to 85 s (11 more).
    assert kie_emulator.call_count("get-task-details") == 27


@pytest.mark.anyio
async def test_async_client(kie_async_client, kie_emulator, tmp_path):
    result = await kie_async_client.edit([PHOTO], "make it blue")
    paths = await result.save(tmp_path)
    assert paths[0].read_bytes().startswith(b"\\x89PNG")
    assert kie_emulator.call_count("gpt-image-1-5-image-to-image") == 1


@pytest.mark.anyio
@pytest.mark.kie_emulator(outcome=lambda body: Outcome.fail())
async def test_async_failed_task(kie_async_client):
    async with kie_async_client as client:
        with pytest.raises(kie.TaskFailedError):
            await client.edit([PHOTO], "make it blue")


def test_server_on_loopback(kie_server, kie_emulator):
    assert kie_server.base_url.startswith("http://127.0.0.1:")
    with kie.Client(
        api_key=kie_emulator.api_key,
        base_url=kie_server.base_url,
        upload_base_url=kie_server.upload_base_url,
    ) as client:
        assert client.credits() == 1000
        client.edit([PHOTO], "make it blue")
    assert kie_emulator.call_count("gpt-image-1-5-image-to-image") == 1
"""


def _project(pytester: pytest.Pytester) -> None:
    shutil.copy(PHOTO, pytester.path / "photo.png")


def test_fixtures_work_from_a_fresh_test_file(pytester: pytest.Pytester) -> None:
    _project(pytester)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest(*STRICT, "-v")
    result.assert_outcomes(passed=12)
    # anyio's plugin runs each async test under every installed backend (trio comes with selenium).
    result.stdout.fnmatch_lines(
        [
            "*test_failed_task PASSED*",
            "*test_fault_from_the_marker_is_retried PASSED*",
            "*test_async_client?asyncio? PASSED*",
            "*test_async_failed_task?trio? PASSED*",
        ],
        consecutive=False,
    )


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_async_client_works_for_pytest_asyncio_users(pytester: pytest.Pytester, mode: str) -> None:
    _project(pytester)
    pytester.makepyfile(
        test_asyncio_user="""
        from pathlib import Path

        import pytest

        import kie_gpt_image as kie
        from kie_gpt_image.emulator import Outcome

        PHOTO = Path(__file__).with_name("photo.png")

        @pytest.mark.asyncio
        async def test_edit(kie_async_client):
            result = await kie_async_client.edit([PHOTO], "make it blue")
            assert (await result.bytes())[0].startswith(b"\\x89PNG")

        @pytest.mark.asyncio(loop_scope="module")
        @pytest.mark.kie_emulator(outcome=lambda body: Outcome.fail())
        async def test_failed_task_on_a_module_loop(kie_async_client):
            with pytest.raises(kie.TaskFailedError):
                await kie_async_client.edit([PHOTO], "make it blue")

        @pytest.mark.asyncio(loop_scope="module")
        async def test_a_second_test_on_the_module_loop(kie_async_client):
            assert await kie_async_client.credits() == 1000
        """
    )
    result = pytester.runpytest(*STRICT, "-p", "no:anyio", "-o", f"asyncio_mode={mode}", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([f"asyncio: mode=Mode.{mode.upper()}*"])


def test_options_fixtures_configure_a_whole_directory(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def kie_emulator_options():
            return {"credits": 7}

        @pytest.fixture
        def kie_client_options():
            return {"max_retries": 0}
        """
    )
    pytester.makepyfile(
        """
        import pytest
        import kie_gpt_image as kie
        from kie_gpt_image.emulator import Fault

        def test_conftest_options(kie_client, kie_emulator):
            assert kie_client.credits() == 7
            kie_emulator.faults.on("get-account-credits", 2, Fault.http_error(502))
            with pytest.raises(kie.KieError):
                kie_client.credits()  # max_retries=0: the 502 is not retried

        @pytest.mark.kie_emulator(credits=9)
        def test_marker_over_conftest(kie_client):
            assert kie_client.credits() == 9
        """
    )
    pytester.runpytest(*STRICT).assert_outcomes(passed=2)


def test_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-o", "asyncio_default_fixture_loop_scope=function", "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.kie_emulator(**options): keyword arguments for *Emulator*"])


def test_a_bad_marker_argument_says_what_is_wrong(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.kie_emulator(creditz=5)
        def test_typo(kie_emulator):
            pass

        @pytest.mark.kie_emulator(5)
        def test_positional(kie_emulator):
            pass
        """
    )
    result = pytester.runpytest(*STRICT)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*TypeError: *unexpected keyword argument 'creditz'*",
            "*TypeError: @pytest.mark.kie_emulator takes keyword arguments only (for Emulator), got (5,)*",
        ],
        consecutive=False,
    )


def test_inactive_when_pytest_does_not_load_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses(kie_client):\n    pass\n")
    result = pytester.runpytest(*STRICT, "-p", "no:kie_gpt_image")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'kie_client' not found*"])
    # Importing the library does not import pytest or the plugin.
    code = (
        "import sys, kie_gpt_image\n"
        "print('pytest' in sys.modules, 'kie_gpt_image.pytest_plugin' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.split() == ["False", "False"]


def test_shipped_in_the_wheel_under_the_pytest11_entry_point(tmp_path: Path) -> None:
    (installed,) = [ep for ep in entry_points(group="pytest11") if ep.name == "kie_gpt_image"]
    assert installed.value == "kie_gpt_image.pytest_plugin"
    subprocess.run(  # noqa: S603 - hatchling is a pinned dev dependency; builds offline
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("kie_gpt_image-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_txt,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        text = archive.read(entry_txt).decode()
    assert "kie_gpt_image/pytest_plugin.py" in names
    assert "[pytest11]\nkie_gpt_image = kie_gpt_image.pytest_plugin" in text
