#!/usr/bin/env python3
"""How close can polling alone come to kie.ai's running-cap bound? A simulation, not a benchmark.

    .venv/bin/python scripts/simulate_polling.py [--tasks 2000] [--seeds 2]

A model of issue 15's benchmark with no network and no client: tasks last 20-90 s (uniform), at most 100
run at once, at most 20 are created per 10 s, and a finished task frees its running slot only when a poll
reads it. Polls go out evenly at a budget of B per second, each to one task chosen by a policy:

- ``schedule``: the documented schedule (every 2 s for the first 30 s, then every 5 s; ``PollPolicy``),
  polls served in the order they fell due (what the scheduler did before young polls went last);
- ``schedule, young last``: the same, but a poll of a task younger than the quickest finish seen (20 s)
  goes after the others (``Scheduler._place``);
- ``best guess``: no schedule at all, each poll to the task most likely to have finished since its last
  poll, knowing the true duration distribution (an oracle no client has: a ceiling for any policy of
  this kind).

Prints the steady-state throughput (the 200th to the 1,800th finish) as a fraction of the bound
min(20 per 10 s, 100 / 55 s), per policy and budget: 6.4/s (8 per 1.25 s, the earlier margin), 8/s (the
default budget) and 10/s (all of kie.ai's). The budget and the duration spread, not the client, cap it.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Callable

LOW, HIGH = 20.0, 90.0
MAX_RUNNING, CREATES, CREATE_WINDOW = 100, 20, 10.0
BOUND = min(CREATES / CREATE_WINDOW, MAX_RUNNING / ((LOW + HIGH) / 2))


def _interval(age: float) -> float:
    return 2.0 if age < 30 else 5.0 if age < 120 else 15.0


def _finished_by(age: float) -> float:
    """P(duration <= age)."""
    return min(max((age - LOW) / (HIGH - LOW), 0.0), 1.0)


class _Task:
    __slots__ = ("born", "due", "duration", "last")

    def __init__(self, born: float, duration: float) -> None:
        self.born, self.duration, self.due, self.last = born, duration, born + _interval(0.0), born


Choose = Callable[[list[_Task], float, float | None], "_Task | None"]


def _schedule(tasks: list[_Task], now: float, quickest: float | None) -> _Task | None:
    due = [t for t in tasks if t.due <= now]
    return min(due, key=lambda t: t.due) if due else None


def _young_last(tasks: list[_Task], now: float, quickest: float | None) -> _Task | None:
    due = [t for t in tasks if t.due <= now]
    if not due:
        return None
    return min(due, key=lambda t: (quickest is not None and now - t.born < quickest, t.due))


def _best_guess(tasks: list[_Task], now: float, quickest: float | None) -> _Task | None:
    def chance(t: _Task) -> float:
        alive = 1.0 - _finished_by(t.last - t.born)
        return 1.0 if alive <= 0 else (_finished_by(now - t.born) - _finished_by(t.last - t.born)) / alive

    best = max(tasks, key=chance, default=None)
    return best if best is not None and chance(best) > 0 else None


def simulate(choose: Choose, budget: float, tasks: int, seed: int) -> float:
    """Steady-state finishes per second over the bound."""
    rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret
    now, step = 0.0, 1.0 / budget
    running: list[_Task] = []
    creates: list[float] = []
    started = finished = 0
    quickest: float | None = None
    marks: dict[int, float] = {}
    while finished < tasks:
        while started < tasks and len(running) < MAX_RUNNING:
            creates = [c for c in creates if c > now - CREATE_WINDOW]
            if len(creates) >= CREATES:
                break
            creates.append(now)
            running.append(_Task(now, rng.uniform(LOW, HIGH)))
            started += 1
        task = choose(running, now, quickest)
        if task is not None:
            if now - task.born >= task.duration:
                running.remove(task)
                finished += 1
                marks.setdefault(finished, now)
                quickest = task.duration if quickest is None else min(quickest, task.duration)
            else:
                task.due, task.last = now + _interval(now - task.born), now
        now += step
    low, high = tasks // 10, tasks - tasks // 10
    return (high - low) / (marks[high] - marks[low]) / BOUND


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    policies: dict[str, Choose] = {
        "schedule": _schedule,
        "schedule, young last": _young_last,
        "best guess": _best_guess,
    }
    print(f"{'policy':<22} {'6.4/s':>7} {'8/s':>7} {'10/s':>7}   (throughput / bound, {args.seeds} seeds)")
    for name, choose in policies.items():
        row = [
            statistics.mean(simulate(choose, budget, args.tasks, seed) for seed in range(args.seeds))
            for budget in (6.4, 8.0, 10.0)
        ]
        print(f"{name:<22} " + " ".join(f"{x:>7.1%}" for x in row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
