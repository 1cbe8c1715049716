"""The spend guard: many tasks under a credit budget (``edit_many(max_credits=)``, ``batch --max-credits``).

What is measured and what is estimated: kie.ai tells a task's cost only once it has finished (the
record's ``credits_consumed``). So every task in flight *reserves* the highest cost seen so far for its
model (in this run, from earlier runs' journal, or stated by the user), and a new task starts only if
``spent + reserved + its reservation`` stays within the budget. A model whose cost has never been seen
runs one task alone first (nothing else in flight), unless a cost was stated. The account's balance
(``credits()`` at the start) is a second bound. When a task finishes, its reservation is replaced by
what it really cost; a task that failed before it existed costs nothing; one whose cost is not told
counts its reservation as spent. Other users of the same account can still spend: the guard only
knows the tasks it started.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ._errors import InvalidInputError, KieError

__all__ = ["NotStartedError", "Reservation", "SpendGuard", "check_credits", "guard_async", "guard_sync"]

R = TypeVar("R")


class NotStartedError(KieError):
    """The item was not started: its cost could take the credits spent and reserved past the budget
    (``max_credits``) or the account's balance. Nothing was sent or spent for it."""

    resumable = False


def check_credits(field_name: str, value: object, *, allow_zero: bool = True) -> float:
    """``value`` as a finite, non-negative number of credits, or a typed error naming ``field_name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(field_name, "must be a finite number of credits")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInputError(field_name, "must not be negative" if value < 0 else "must be positive")
    return float(value)


@dataclass(frozen=True, slots=True)
class Reservation:
    """One started task's hold on the budget."""

    model: str
    amount: float
    """Credits held until the task's real cost is known (0 for a model's first, unknown-cost task)."""
    probe: bool = False
    """The first task of a model with no known cost: it runs alone."""


@dataclass
class SpendGuard:
    """Decides which task may start under ``max_credits`` (thread-safe; one per many-task run).

    Args:
        max_credits: the budget of the run, in credits.
        costs: known cost per task of each model (stated by the user, or read from earlier runs).
        balance: the account's credits at the start (a second bound), if read.
    """

    max_credits: float
    costs: dict[str, float] = field(default_factory=dict)
    balance: float | None = None
    spent: float = 0.0
    """Credits of the tasks finished in this run (measured, or their reservation when not told)."""
    reserved: float = 0.0
    """Credits held by the tasks in flight (estimated)."""
    _in_flight: int = 0
    _probing: bool = False
    _lock: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def of(
        cls, max_credits: object, costs: Mapping[str, float] | None = None, balance: float | None = None
    ) -> SpendGuard:
        """A guard with its arguments checked (``InvalidInputError`` naming ``max_credits``)."""
        budget = check_credits("max_credits", max_credits)
        known = {model: check_credits(f"task cost of {model}", cost) for model, cost in (costs or {}).items()}
        return cls(budget, known, balance)

    @property
    def limit(self) -> float:
        """The tighter of the budget and the balance."""
        return self.max_credits if self.balance is None else min(self.max_credits, self.balance)

    @property
    def left(self) -> float:
        """Credits neither spent nor reserved, within the limit."""
        return max(self.limit - self.spent - self.reserved, 0.0)

    def decide(self, model: str) -> Reservation | bool:
        """A reservation if a task of ``model`` may start now; ``True``: wait for a task in flight to
        finish; ``False``: it can never start in this run (the budget is used up)."""
        with self._lock:
            cost = self.costs.get(model)
            if self._probing:
                return True
            if cost is None:
                if self._in_flight:
                    return True  # the first task of an unknown cost runs alone
                if self.spent >= self.limit:
                    return False
                self._probing = True
                self._in_flight += 1
                return Reservation(model, 0.0, probe=True)
            if self.spent + self.reserved + cost <= self.limit + 1e-9:
                self.reserved += cost
                self._in_flight += 1
                return Reservation(model, cost)
            return True if self._in_flight else False

    def settle(self, reservation: Reservation, credits: float | None, *, created: bool = True) -> None:
        """The task of ``reservation`` ended: ``credits`` is its cost as its record tells (``None``: not
        told: the reservation counts as spent); ``created=False``: no task was created (nothing spent)."""
        with self._lock:
            self.reserved = max(self.reserved - reservation.amount, 0.0)
            self._in_flight -= 1
            if reservation.probe:
                self._probing = False
            if created:
                cost = credits if credits is not None else reservation.amount
                self.spent += cost
                if credits is not None:
                    self.costs[reservation.model] = max(self.costs.get(reservation.model, 0.0), credits)
                elif reservation.probe:
                    # Never told what the first task cost: nothing more of this model can be bounded.
                    self.costs.setdefault(reservation.model, math.inf)
            self._lock.notify_all()

    def wait_sync(self, model: str) -> Reservation | None:
        """Block until a task of ``model`` may start (its reservation) or never can (``None``)."""
        while True:
            decision = self.decide(model)
            if isinstance(decision, Reservation):
                return decision
            if decision is False:
                return None
            with self._lock:
                self._lock.wait(0.05)

    async def wait_async(self, model: str) -> Reservation | None:
        """``wait_sync`` for the event loop."""
        import asyncio

        while True:
            decision = self.decide(model)
            if isinstance(decision, Reservation):
                return decision
            if decision is False:
                return None
            await asyncio.sleep(0.01)

    def refusal(self, model: str) -> NotStartedError:
        """The error of an item that cannot start."""
        cost = self.costs.get(model)
        return NotStartedError(
            f"not started: {self.spent:g} credits spent and {self.reserved:g} reserved of the limit of "
            f"{self.limit:g}, and a task of {model} may cost "
            + (f"{cost:g}" if cost is not None and math.isfinite(cost) else "an unknown amount")
        )


def _credits_of(result: object) -> float | None:
    value = getattr(getattr(result, "info", None), "credits_consumed", None)
    return float(value) if isinstance(value, (int, float)) else None


def guard_sync(
    credits: Callable[[], float],
    work: Callable[[Any], R],
    max_credits: object,
    model_of: Callable[[Any], str],
) -> Callable[[Any], R]:
    """``work`` (one edit of ``Client.edit_many``) under a ``SpendGuard`` of ``max_credits``
    (``None``: ``work`` itself). ``credits`` reads the account's balance, once, before the first edit;
    ``model_of`` tells an item's model."""
    if max_credits is None:
        return work
    check_credits("max_credits", max_credits)
    holder: list[SpendGuard] = []
    start = threading.Lock()

    def guarded(request: Any) -> R:
        with start:
            if not holder:
                holder.append(SpendGuard.of(max_credits, balance=credits()))
        guard = holder[0]
        model = model_of(request)
        reservation = guard.wait_sync(model)
        if reservation is None:
            raise guard.refusal(model)
        try:
            result = work(request)
        except KieError as exc:
            guard.settle(reservation, None, created=exc.task_id is not None)
            raise
        except BaseException:
            guard.settle(reservation, None)
            raise
        guard.settle(reservation, _credits_of(result))
        return result

    return guarded


def guard_async(
    credits: Callable[[], Awaitable[float]],
    work: Callable[[Any], Awaitable[R]],
    max_credits: object,
    model_of: Callable[[Any], str],
) -> Callable[[Any], Awaitable[R]]:
    """``guard_sync`` for ``AsyncClient.edit_many``."""
    if max_credits is None:
        return work
    check_credits("max_credits", max_credits)
    holder: list[SpendGuard] = []

    async def guarded(request: Any) -> R:
        if not holder:
            balance = await credits()
            if not holder:  # another item read it meanwhile
                holder.append(SpendGuard.of(max_credits, balance=balance))
        guard = holder[0]
        model = model_of(request)
        reservation = await guard.wait_async(model)
        if reservation is None:
            raise guard.refusal(model)
        try:
            result = await work(request)
        except KieError as exc:
            guard.settle(reservation, None, created=exc.task_id is not None)
            raise
        except BaseException:
            guard.settle(reservation, None)
            raise
        guard.settle(reservation, _credits_of(result))
        return result

    return guarded
