"""The batch item states: one enum, one transition table, enforced by the journal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cli_support import Run, write_manifest

from kie_gpt_image._cli import _states
from kie_gpt_image._cli._exitcodes import ExitCode, IllegalTransitionError, exit_code_for
from kie_gpt_image._cli._journal import Journal
from kie_gpt_image._cli._states import FINISHED, TRANSITIONS, ItemState, check_transition
from kie_gpt_image.emulator import Emulator


def _reachable(start: ItemState) -> set[ItemState]:
    seen: set[ItemState] = set()
    todo = [start]
    while todo:
        for state in TRANSITIONS[todo.pop()]:
            if state not in seen:
                seen.add(state)
                todo.append(state)
    return seen


def test_every_state_has_a_row_and_the_finished_ones_are_final() -> None:
    assert set(TRANSITIONS) == {None, *ItemState}
    for state in FINISHED:
        assert TRANSITIONS[state] == frozenset()


def test_a_task_id_once_journaled_never_leads_back_to_creating_a_task() -> None:
    # Never pay twice: from "submitted" only waiting (submitted again), done or failed are reachable.
    assert _reachable(ItemState.SUBMITTED) == {ItemState.SUBMITTED, ItemState.DONE, ItemState.FAILED}
    # ... and a task id is only ever recorded right after "submitting" was committed.
    assert [old for old, new in TRANSITIONS.items() if ItemState.SUBMITTED in new and old is not None] == [
        ItemState.SUBMITTING,
        ItemState.SUBMITTED,
    ]


def test_an_illegal_move_raises_a_clear_internal_error() -> None:
    with pytest.raises(IllegalTransitionError) as caught:
        check_transition("look-1", ItemState.DONE, ItemState.SUBMITTING)
    message = str(caught.value)
    assert "batch item 'look-1' cannot move from state 'done' to 'submitting'" in message
    assert "none: it is final" in message
    assert "bug" in message
    assert exit_code_for(caught.value) is ExitCode.INTERNAL


def _state(path: Path, item_id: str) -> str:
    with sqlite3.connect(path) as db:
        (state,) = db.execute("SELECT state FROM items WHERE item_id=?", (item_id,)).fetchone()
    db.close()
    return str(state)


def test_the_journal_refuses_an_illegal_move_and_keeps_the_row(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        journal.add([("1", 1, "fp")])
        journal.update("1", ItemState.SUBMITTING)
        journal.update("1", ItemState.SUBMITTED, task_id="task_1")
        with pytest.raises(IllegalTransitionError, match="from state 'submitted' to 'pending'"):
            journal.update("1", ItemState.PENDING, input_urls=["https://x/y.png"])
        with pytest.raises(IllegalTransitionError, match="from a new item to 'submitted'"):
            journal.update("2", ItemState.SUBMITTED, task_id="task_2")
        entry = journal.entries()["1"]
    assert entry.state is ItemState.SUBMITTED
    assert entry.task_id == "task_1"
    assert entry.input_urls is None
    assert _state(path, "1") == "submitted"


def test_every_legal_move_is_accepted_by_the_journal(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        for old, targets in TRANSITIONS.items():
            for new in targets:
                item_id = f"{old}->{new}"
                journal.add([(item_id, 1, "fp")])
                # Walk the item to ``old`` along legal moves first.
                for step in _path_to(old):
                    journal.update(item_id, step)
                journal.update(item_id, new)
                assert journal.entries()[item_id].state is new


def _path_to(target: ItemState | None) -> list[ItemState]:
    """The shortest legal path from a new (pending) row to ``target``."""
    if target in (None, ItemState.PENDING):
        return []
    paths: dict[ItemState, list[ItemState]] = {ItemState.PENDING: []}
    todo = [ItemState.PENDING]
    while todo:
        state = todo.pop(0)
        for nxt in TRANSITIONS[state]:
            if nxt not in paths:
                paths[nxt] = [*paths[state], nxt]
                todo.append(nxt)
    return paths[target]


def test_an_illegal_move_in_a_run_exits_1_and_the_paid_task_id_still_reaches_the_user(
    run: Run, image: Path, tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A runner bug, simulated by a table that (wrongly) forbids recording the task id.
    broken = dict(TRANSITIONS)
    broken[ItemState.SUBMITTING] = TRANSITIONS[ItemState.SUBMITTING] - {ItemState.SUBMITTED}
    monkeypatch.setattr(_states, "TRANSITIONS", broken)
    manifest = write_manifest(tmp_path, [{"images": ["in.png"], "prompt": "x"}])
    result = run("batch", str(manifest), "--no-download", "--json")
    assert result.code == ExitCode.INTERNAL
    assert emulator.call_count("gpt-image-1-5-image-to-image") == 1
    (lost,) = result.json()["unjournaled"]
    assert f"task {lost['task_id']} was created (and is paid for)" in result.err
    assert "cannot move from state 'submitting' to 'submitted'" in result.err
    assert result.json()["error"]["exit_code"] == ExitCode.INTERNAL
