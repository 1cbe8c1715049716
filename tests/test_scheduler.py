"""The scheduler of kie.ai's three limits: budgets, order of waiters, running cap, shared stores."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from kie_gpt_image import InvalidInputError
from kie_gpt_image._scheduler import RateLimits, Scheduler


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def drain(scheduler: Scheduler, clock: FakeClock, budget: str, due: float) -> float:
    """Ask for a slot until granted, advancing the fake clock by each answer; the time waited."""
    ticket = scheduler.ticket(budget, due)  # type: ignore[arg-type]
    start = clock.now
    while (delay := scheduler.take(ticket)) > 0:
        clock.now += delay
    scheduler.replied(ticket)  # answered at once
    return clock.now - start


def test_creates_beyond_the_window_wait_for_it_to_reopen() -> None:
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(margin=0.25), "key", clock=clock)
    waits = [drain(scheduler, clock, "create", due=i) for i in range(21)]
    assert waits[:20] == [0.0] * 20
    # The 21st waits until the first leaves the 10 s window (plus the margin).
    assert waits[20] == pytest.approx(10.25, abs=0.01)


def test_polls_never_exceed_the_budget_in_any_second() -> None:
    clock = FakeClock()
    limits = RateLimits(polls_per_second=8, margin=0.0)
    scheduler = Scheduler(limits, "key", clock=clock)
    stamps = []
    for i in range(100):
        drain(scheduler, clock, "poll", due=i)
        stamps.append(clock.now)
    for start in stamps:
        in_window = [s for s in stamps if start <= s < start + 1.0]
        assert len(in_window) <= 8


def grant(scheduler: Scheduler, budget: str = "poll") -> object:
    ticket = scheduler.ticket(budget, 0.0)  # type: ignore[arg-type]
    assert scheduler.take(ticket) == 0.0
    return ticket


def test_a_request_still_unanswered_when_its_window_passes_keeps_its_slot() -> None:
    # kie.ai counts a request when it arrives, which may be long after its slot was granted.
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(polls_per_second=2, margin=0.0), "key", clock=clock)
    _slow, fast = grant(scheduler), grant(scheduler)
    scheduler.replied(fast)  # type: ignore[arg-type]
    clock.now += 1.01  # both grants left the window; the slow request may reach kie.ai only now
    assert drain(scheduler, clock, "poll", due=1.0) == 0.0
    # Without the hold, a second slot would be free now and kie.ai could see three in one second.
    assert drain(scheduler, clock, "poll", due=1.0) == pytest.approx(1.0, abs=0.01)


def test_a_reply_later_than_the_margin_counts_again_from_the_reply_in_a_shared_store(
    tmp_path: Path,
) -> None:
    clock = FakeClock(time.time())
    limits = RateLimits.shared_file(str(tmp_path / "budget.db"), polls_per_second=3, margin=0.1)
    scheduler = Scheduler(limits, "key", clock=clock)
    slow, fast = grant(scheduler), grant(scheduler)
    scheduler.replied(fast)  # type: ignore[arg-type]
    clock.now += 0.5
    scheduler.replied(slow)  # type: ignore[arg-type]
    clock.now += 0.61  # both grants left the window (1 s + margin); the slow reply (at 0.5) did not
    other = Scheduler(limits, "key", clock=clock)  # another process: it sees only the store
    assert drain(other, clock, "poll", due=2.0) == 0.0
    assert drain(other, clock, "poll", due=2.0) == 0.0
    assert drain(other, clock, "poll", due=2.0) == pytest.approx(0.49, abs=0.01)
    scheduler.close()
    other.close()


def test_a_slow_reply_into_a_full_store_window_still_holds_its_slot_a_window_after_it() -> None:
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(polls_per_second=2, margin=0.1), "key", clock=clock)
    slow, fast = grant(scheduler), grant(scheduler)
    scheduler.replied(fast)  # type: ignore[arg-type]
    clock.now += 0.5
    scheduler.replied(slow)  # type: ignore[arg-type]  # the store's window is full: no room to stamp it
    clock.now += 0.61
    assert drain(scheduler, clock, "poll", due=2.0) == 0.0
    # The slow request may have reached kie.ai just before its reply (at 0.5): it counts until 1.5.
    assert drain(scheduler, clock, "poll", due=2.0) == pytest.approx(0.39, abs=0.01)


def test_a_reply_within_the_margin_costs_nothing_more() -> None:
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(polls_per_second=2, margin=0.25), "key", clock=clock)
    first, second = grant(scheduler), grant(scheduler)
    clock.now += 0.2
    scheduler.replied(first)  # type: ignore[arg-type]
    scheduler.replied(second)  # type: ignore[arg-type]
    clock.now += 1.06
    assert drain(scheduler, clock, "poll", due=2.0) == 0.0
    assert drain(scheduler, clock, "poll", due=2.0) == 0.0


def test_requests_in_flight_hold_their_slots_until_replied_or_long_gone() -> None:
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(polls_per_second=4, margin=0.0), "key", clock=clock)
    pending = [grant(scheduler) for _ in range(4)]  # granted, not answered yet
    clock.now += 5.0
    ticket = scheduler.ticket("poll", 0.0)
    assert scheduler.take(ticket) > 0  # any of the four may reach kie.ai now
    scheduler.replied(pending[0])  # type: ignore[arg-type]
    clock.now += 1.0  # a whole window after that reply
    assert scheduler.take(ticket) == 0.0
    # A request never reported back stops holding its slot after a while (a caller outside the flows).
    clock.now += 400.0
    assert all(scheduler.take(scheduler.ticket("poll", 0.0)) == 0.0 for _ in range(3))


def test_waiters_are_spread_out_in_the_order_they_fell_due() -> None:
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(polls_per_second=1, margin=0.0), "key", clock=clock)
    first = scheduler.ticket("poll", due=0)
    assert scheduler.take(first) == 0.0
    late = scheduler.ticket("poll", due=5.0)
    early = scheduler.ticket("poll", due=1.0)
    assert scheduler.take(late) > 0  # asked first, but one that fell due earlier is waiting
    wait_early = scheduler.take(early)
    wait_late = scheduler.take(late)
    assert 0 < wait_early < wait_late


def test_a_waiter_that_gives_up_leaves_the_queue() -> None:
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(polls_per_second=1, margin=0.0), "key", clock=clock)
    assert scheduler.take(scheduler.ticket("poll", due=0)) == 0.0
    gone = scheduler.ticket("poll", due=0.5)
    behind = scheduler.ticket("poll", due=1.0)
    assert scheduler.take(gone) > 0
    before = scheduler.take(behind)
    scheduler.release(gone)
    assert scheduler.take(behind) < before


def test_a_newcomer_never_takes_a_slot_while_an_earlier_request_waits() -> None:
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(polls_per_second=1, margin=0.0), "key", clock=clock)
    scheduler.replied(grant(scheduler))  # type: ignore[arg-type]
    early = scheduler.ticket("poll", due=1.0)
    assert scheduler.take(early) > 0  # the window is full
    clock.now += 1.01  # the window reopens, and a request that fell due later asks first
    late = scheduler.ticket("poll", due=2.0)
    assert scheduler.take(late) > 0
    assert scheduler.take(early) == 0.0
    scheduler.replied(early)
    clock.now += 1.01
    assert scheduler.take(late) == 0.0


def test_a_poll_of_a_task_younger_than_any_finish_goes_after_older_ones() -> None:
    # A poll that almost surely finds its task running yields its turn while others queue.
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(polls_per_second=1), "key", clock=clock)
    scheduler.task_finished("an-earlier-task", took=20.0)
    scheduler.replied(grant(scheduler))  # type: ignore[arg-type]  # the window is full
    young = scheduler.ticket("poll", due=1.0, born=clock.now - 5.0)  # fell due first, 5 s old
    old = scheduler.ticket("poll", due=2.0, born=clock.now - 40.0)
    clock.now += 1.01  # the window reopens
    assert scheduler.take(young) > 0
    assert scheduler.take(old) == 0.0


def test_a_young_task_s_poll_still_goes_at_once_when_the_budget_is_free() -> None:
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(polls_per_second=1), "key", clock=clock)
    scheduler.task_finished("an-earlier-task", took=20.0)
    assert scheduler.take(scheduler.ticket("poll", due=1.0, born=clock.now - 5.0)) == 0.0


def test_polls_keep_the_order_they_fell_due_until_a_finish_is_read_or_once_tasks_are_old() -> None:
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(polls_per_second=1), "key", clock=clock)
    scheduler.replied(grant(scheduler))  # type: ignore[arg-type]
    early = scheduler.ticket("poll", due=1.0, born=clock.now - 5.0)
    late = scheduler.ticket("poll", due=2.0, born=clock.now - 40.0)
    clock.now += 1.01
    assert scheduler.take(late) > 0  # no finish read yet: nothing is known to be young
    scheduler.task_finished("t", took=6.0)  # the early one's task is now older than the quickest
    assert scheduler.take(late) > 0
    assert scheduler.take(early) == 0.0


def test_creation_times_of_tasks_never_read_to_the_end_do_not_pile_up() -> None:
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(max_running=10**6, running_expiry=60.0), "key", clock=clock)
    for i in range(5000):
        running = scheduler.ticket("running", 0.0)
        assert scheduler.take(running) == 0.0
        scheduler.task_started(running, f"task-{i}", sent=clock.now)
        clock.now += 1.0
    assert scheduler.born("task-0") is None  # created 5000 s ago, never read finished
    assert scheduler.born("task-4999") == clock.now - 1.0
    assert sum(scheduler.born(f"task-{i}") is not None for i in range(5000)) <= 4097


def test_in_memory_the_ledger_replaces_the_margin_and_a_shared_store_keeps_it() -> None:
    assert RateLimits().window_margin == 0.0
    assert RateLimits.shared_file("budget.db").window_margin == 0.25
    assert RateLimits(margin=0.5).window_margin == 0.5
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(polls_per_second=2), "key", clock=clock)
    waits = [drain(scheduler, clock, "poll", due=i) for i in range(3)]
    # The third poll waits exactly a window after the first one's reply: polls can use all 8 per second.
    assert waits == [0.0, 0.0, pytest.approx(1.0, abs=0.01)]


def test_in_memory_a_late_reply_costs_no_second_slot() -> None:
    # Each createTask answered 0.1 s after its grant: the ledger holds its slot a window after the
    # reply, and nothing more, so 40 creates fit in about one window and 2 s (a second stamp per
    # reply would halve the budget).
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(), "key", clock=clock)
    start = clock.now
    for _ in range(40):
        ticket = scheduler.ticket("create", clock.now)
        while (delay := scheduler.take(ticket)) > 0:
            clock.now += delay
        clock.now += 0.1
        scheduler.replied(ticket)
    # The 21st goes when the first reply is a window old (10.1 s); the 40th 19 grants later.
    assert clock.now - start == pytest.approx(10.1 + 19 * 0.1 + 0.1, abs=0.01)


def _hold(scheduler: Scheduler) -> object:
    ticket = scheduler.ticket("running", due=0)
    if scheduler.take(ticket) == 0.0:
        return ticket
    scheduler.release(ticket)
    return None


def test_running_cap_counts_tasks_until_seen_finished_or_expired() -> None:
    clock = FakeClock(0.0)
    scheduler = Scheduler(RateLimits(max_running=2, running_expiry=60), "key", clock=clock)
    a, b = _hold(scheduler), _hold(scheduler)
    assert a is not None
    assert b is not None
    scheduler.task_started(a, "task-a")  # type: ignore[arg-type]
    scheduler.task_started(b, "task-b")  # type: ignore[arg-type]
    assert scheduler.running() == 2
    assert _hold(scheduler) is None  # full
    scheduler.task_finished("task-a")
    c = _hold(scheduler)
    assert c is not None
    scheduler.release(c)  # its createTask surely created nothing: the entry goes
    assert scheduler.running() == 1
    clock.now = 61.0  # task-b was never seen finishing: it stops counting after running_expiry
    assert scheduler.running() == 0


def test_accounts_do_not_share_budgets() -> None:
    clock = FakeClock()
    limits = RateLimits(creates_per_window=1)
    one, other = Scheduler(limits, "key-1", clock=clock), Scheduler(limits, "key-2", clock=clock)
    assert drain(one, clock, "create", 0) == 0.0
    assert drain(other, clock, "create", 0) == 0.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("creates_per_window", 0),
        ("polls_per_second", 2.5),
        ("max_running", True),
        ("create_window", float("nan")),
        ("create_window", -1),
        ("margin", -0.1),
        ("store", "postgres://x"),
        ("store", "sqlite://relative-without-third-slash"),
    ],
)
def test_bad_limits_are_typed_errors(field: str, value: object) -> None:
    with pytest.raises(InvalidInputError, match=field):
        RateLimits(**{field: value})  # type: ignore[arg-type]


def _create_in_process(limits: RateLimits, count: int, stamps: multiprocessing.Queue[float]) -> None:
    scheduler = Scheduler(limits, "key")
    for i in range(count):
        ticket = scheduler.ticket("create", due=i)
        while (delay := scheduler.take(ticket)) > 0:
            time.sleep(delay)
        stamps.put(time.time())
    scheduler.close()


def _three_processes_share(limits: RateLimits) -> None:
    """Three processes create 5 tasks each under one 5-per-window budget: never 6 in a window."""
    stamps: multiprocessing.Queue[float] = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_create_in_process, args=(limits, 5, stamps)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    times = sorted(stamps.get(timeout=5) for _ in range(15))
    for start in times:
        assert len([t for t in times if start <= t < start + 1.0]) <= 5
    assert times[-1] - times[0] >= 2.0


def test_a_sqlite_file_another_process_is_writing_to_is_opened_once_it_is_free(tmp_path: Path) -> None:
    # Opening switches the file to WAL, which SQLite refuses at once while another connection writes
    # (another process adding a running task): the open waits instead of failing the request.
    path = tmp_path / "budget.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE busy (k TEXT)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO busy VALUES ('x')")
    release = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    release.start()
    scheduler = Scheduler(RateLimits.shared_file(str(path)), "key")
    try:
        assert scheduler.take(scheduler.ticket("create", 0.0)) == 0.0
    finally:
        release.join()
        scheduler.close()
        writer.close()


def test_a_sqlite_file_shares_the_create_window_between_processes(tmp_path: Path) -> None:
    _three_processes_share(
        RateLimits.shared_file(str(tmp_path / "budget.db"), creates_per_window=5, create_window=1.0)
    )


def test_redis_shares_the_create_window_between_processes(redis_url: str) -> None:
    _three_processes_share(RateLimits.shared_redis(redis_url, creates_per_window=5, create_window=1.0))


def _hold_running(limits: RateLimits, results: multiprocessing.Queue[bool]) -> None:
    scheduler = Scheduler(limits, "running-key")
    for _ in range(2):
        ticket = scheduler.ticket("running", due=0)
        results.put(scheduler.take(ticket) == 0.0)
    scheduler.close()


def _three_processes_share_the_running_cap(limits: RateLimits) -> None:
    """Three processes ask for two running slots each under one cap of three: exactly three granted."""
    results: multiprocessing.Queue[bool] = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_hold_running, args=(limits, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    assert sorted(results.get(timeout=5) for _ in range(6)) == [False] * 3 + [True] * 3


def test_a_sqlite_file_shares_the_running_cap_between_processes(tmp_path: Path) -> None:
    _three_processes_share_the_running_cap(RateLimits.shared_file(str(tmp_path / "b.db"), max_running=3))


def test_redis_shares_the_running_cap_between_processes(redis_url: str) -> None:
    _three_processes_share_the_running_cap(RateLimits.shared_redis(redis_url, max_running=3))


def test_a_granted_request_still_unsent_after_the_margin_is_stamped_again(tmp_path: Path) -> None:
    # Another process sharing the store sees only its stamps: one for a grant that kie.ai may count
    # only later would let that process's next request into kie.ai's window early.
    clock = FakeClock()
    limits = RateLimits.shared_file(str(tmp_path / "b.db"), polls_per_second=2, margin=0.1)
    scheduler = Scheduler(limits, "key", clock=clock)
    late = grant(scheduler)
    assert scheduler.take(late) == 0.0  # type: ignore[arg-type]  # within the margin: nothing to do
    clock.now += 0.5
    assert scheduler.take(late) == 0.0  # type: ignore[arg-type]  # stamped again: the store is full now
    other = Scheduler(limits, "key", clock=clock)  # the same file, as another process would share it
    waiting = other.ticket("poll", 0.0)
    assert other.take(waiting) > 0
    clock.now += 0.61  # the grant's stamp left the window; the new one (at 0.5) has not
    assert other.take(waiting) == 0.0
    assert other.take(other.ticket("poll", 0.0)) > 0


def simulate(
    scheduler: Scheduler, clock: FakeClock, budget: str, count: int, *, reply_after: float = 0.0
) -> list[float]:
    """``count`` requests falling due together, each asking again when told (as the flows' ``Sleep``
    does), in the order their wake-ups fall, answered ``reply_after`` after their grant; the grant times,
    relative to the start, in the order granted. Tickets are taken last-first, as threads or tasks that
    queued together may ask."""
    start = clock.now
    tickets = [scheduler.ticket(budget, start) for _ in range(count)]  # type: ignore[arg-type]
    wakes = [(start, -i, ticket) for i, ticket in enumerate(tickets)]
    replies: list[tuple[float, object]] = []
    granted: list[float] = []
    while wakes:
        wakes.sort(key=lambda wake: (wake[0], wake[1]))
        at, order, ticket = wakes.pop(0)
        for reply in [r for r in replies if r[0] <= at]:
            clock.now = reply[0]
            scheduler.replied(reply[1])  # type: ignore[arg-type]
            replies.remove(reply)
        clock.now = max(clock.now, at)
        wait = scheduler.take(ticket)
        if wait == 0.0:
            granted.append(clock.now - start)
            if budget != "running":
                replies.append((clock.now + reply_after, ticket))
        else:
            wakes.append((clock.now + wait, order, ticket))
    for reply in replies:
        scheduler.replied(reply[1])  # type: ignore[arg-type]
    return granted


def test_when_the_create_window_reopens_every_queued_create_goes_at_once() -> None:
    # Issue 25: creates 21-40 went out one per 0.5 s after the window reopened at 10 s.
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(), "key", clock=clock)
    granted = simulate(scheduler, clock, "create", 40, reply_after=0.005)
    assert granted[:20] == [0.0] * 20
    assert all(10.0 <= t <= 10.5 for t in granted[20:]), granted[20:]


def test_queued_polls_go_as_soon_as_the_poll_budget_has_room() -> None:
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(polls_per_second=8), "key", clock=clock)
    granted = simulate(scheduler, clock, "poll", 20, reply_after=0.005)
    assert granted[:8] == [0.0] * 8
    assert all(1.0 <= t <= 1.05 for t in granted[8:16]), granted[8:16]
    assert all(2.0 <= t <= 2.1 for t in granted[16:]), granted[16:]


def test_waiters_for_a_running_cap_with_room_are_not_told_to_come_back_later() -> None:
    # Issue 25: each waiting thread was told to come back 0.25 s per waiter ahead of it.
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(max_running=50), "key", clock=clock)
    assert simulate(scheduler, clock, "running", 40) == [0.0] * 40


def test_waiters_with_no_room_are_still_served_in_the_order_they_fell_due() -> None:
    clock = FakeClock()
    scheduler = Scheduler(RateLimits(creates_per_window=2, create_window=1.0), "key", clock=clock)
    for _ in range(2):
        scheduler.replied(grant(scheduler, "create"))  # type: ignore[arg-type]
    early, late = scheduler.ticket("create", 1.0), scheduler.ticket("create", 2.0)
    # The later one is told to ask again no sooner than the earlier one; once the window reopens,
    # both go (there is room for two), but never the later one alone.
    assert 0 < scheduler.take(early) <= scheduler.take(late)
    clock.now += 1.01
    assert scheduler.take(late) == 0.0  # room for both: it need not wait for the other to ask
    assert scheduler.take(early) == 0.0
    scheduler.replied(early)
    scheduler.replied(late)
    third, fourth = scheduler.ticket("create", 3.0), scheduler.ticket("create", 4.0)
    clock.now += 1.01
    scheduler.replied(grant(scheduler, "create"))  # type: ignore[arg-type]  # one slot left
    assert scheduler.take(fourth) > 0  # one slot, and an earlier waiter: it stays behind
    assert scheduler.take(third) == 0.0
