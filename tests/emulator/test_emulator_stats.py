"""The emulator tells its numbers: the banner's balance and task cost, the ``--help`` defaults, and the
read-only stats request outside the kie.ai API (in-process, on sockets, and from the command line)."""

from __future__ import annotations

import argparse
import json
import socket

import httpx
import pytest
from emulator_support import FakeClock, create_body, make_client

from kie_gpt_image.emulator import STATS_PATH, Emulator, EmulatorStats, Outcome, Schedule, fetch_stats
from kie_gpt_image.emulator.__main__ import main
from kie_gpt_image.emulator._run import add_options, announcement

CREATE = "/api/v1/jobs/createTask"
POLL = "/api/v1/jobs/recordInfo"


def _busy_emulator(clock: FakeClock) -> Emulator:
    """Three tasks accepted (one fails), one refused by the rate limit, two polls."""
    emu = Emulator(
        schedule=Schedule(0, 0, 10),
        clock=clock,
        credits=100,
        task_cost=7,
        rate_limit=3,
        outcome=lambda body: Outcome.fail() if "fail" in body["input"]["prompt"] else Outcome.success(),
    )
    with make_client(emu) as http:
        for prompt in ("one", "two", "please fail", "refused"):
            http.post(f"{emu.base_url}{CREATE}", json=create_body(prompt=prompt))
        task_id = json.loads(emu.exchanges[0].response.content)["data"]["taskId"]
        http.get(f"{emu.base_url}{POLL}", params={"taskId": task_id})
        clock.advance(11)  # every task final: the failed one refunded
        http.get(f"{emu.base_url}{POLL}", params={"taskId": task_id})
    return emu


def test_stats_count_calls_429s_credits_and_states(clock: FakeClock) -> None:
    stats = _busy_emulator(clock).stats()
    assert stats.create_calls == 4
    assert stats.tasks_created == 3
    assert (stats.rate_limited, stats.create_rate_429s, stats.running_429s, stats.poll_429s) == (1, 1, 0, 0)
    assert stats.polls == 2
    assert (stats.starting_credits, stats.credits, stats.task_cost) == (100, 86, 7)
    # Paid once per accepted task, the failed one given back: 3 x 7 - 7.
    assert (stats.credits_used, stats.credits_refunded) == (14, 7)
    assert stats.tasks_by_state == {"waiting": 0, "queuing": 0, "generating": 0, "success": 2, "fail": 1}


def test_stats_while_tasks_run_show_their_state(clock: FakeClock) -> None:
    emu = Emulator(schedule=Schedule(0, 0, 10), clock=clock)
    with make_client(emu) as http:
        http.post(f"{emu.base_url}{CREATE}", json=create_body())
    stats = emu.stats()
    assert stats.tasks_by_state["generating"] == 1
    assert stats.credits_used == emu.task_cost  # charged at createTask, before it finishes


def test_the_stats_request_is_outside_the_api_it_emulates(clock: FakeClock) -> None:
    emu = _busy_emulator(clock)
    exchanges = len(emu.exchanges)
    with make_client(emu, key="not the key") as http:
        reply = http.get(f"{emu.base_url}{STATS_PATH}")  # read-only numbers: no key needed
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "application/json"
        assert EmulatorStats.from_json(reply.json()) == emu.stats()
        assert http.post(f"{emu.base_url}{STATS_PATH}").status_code == 405
        # Every host answers it; none records it, counts it or lets a fault touch it.
        assert http.get(f"{emu.files_base_url}{STATS_PATH}").json() == reply.json()
    assert not STATS_PATH.startswith("/api/")
    assert len(emu.exchanges) == exchanges
    assert emu.call_count("stats") == 0


def test_fetch_stats_reads_an_in_process_emulator(clock: FakeClock) -> None:
    emu = _busy_emulator(clock)
    assert fetch_stats(emu.base_url, transport=emu.transport) == emu.stats()
    assert fetch_stats(emu.base_url + STATS_PATH, transport=emu.transport) == emu.stats()


def test_the_stats_command_prints_a_served_emulators_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    emu = Emulator(schedule=Schedule.instant(), credits=50, task_cost=5)
    with (
        emu.serve(port=0) as server,
        httpx.Client(headers={"Authorization": f"Bearer {emu.api_key}"}) as http,
    ):
        http.post(f"{server.base_url}{CREATE}", json=create_body())
        with pytest.raises(SystemExit) as exited:
            main(["stats", "--url", server.base_url])
        assert exited.value.code == 0
        lines = capsys.readouterr().out.splitlines()
        assert "createTask calls   1 (1 accepted)" in lines
        assert "credits used       5 (1 tasks x 5, 0 refunded)" in lines
        assert "credits left       45 of 50" in lines
        with pytest.raises(SystemExit):
            main(["stats", "--url", server.base_url, "--json"])
        assert json.loads(capsys.readouterr().out) == fetch_stats(server.base_url).to_json()


def test_the_stats_command_says_when_no_emulator_answers(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    with pytest.raises(SystemExit) as exited:
        main(["stats", "--url", f"http://127.0.0.1:{port}"])
    assert exited.value.code == 1
    assert f"no emulator stats at http://127.0.0.1:{port}" in capsys.readouterr().err


def test_the_stats_reader_refuses_a_reply_that_is_not_stats() -> None:
    with pytest.raises(ValueError, match="credits must be an integer"):
        EmulatorStats.from_json({**Emulator().stats().to_json(), "credits": "lots"})


def test_the_banner_tells_the_balance_the_task_cost_and_where_the_stats_are() -> None:
    emu = Emulator(credits=250, task_cost=6)
    with emu.serve(port=0) as server:
        lines = announcement(emu, server)
    assert "  credits          250 to start, 6 per task (failed tasks refunded)" in lines
    assert f"  stats            {server.base_url}{STATS_PATH}" in lines


def test_help_shows_the_default_balance_and_task_cost() -> None:
    parser = argparse.ArgumentParser(formatter_class=lambda prog: argparse.HelpFormatter(prog, width=200))
    add_options(parser)
    text = parser.format_help()
    assert "starting credit balance (default: 1000)" in text
    assert "credits charged per task, refunded if it fails (default: 4;" in text
