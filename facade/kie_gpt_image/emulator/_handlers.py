"""The API host's task endpoints: createTask (reference §1, §6), recordInfo (§2) and the credit balance.

createTask checks the body against its model's document (``_market``), then the account limits, then the
balance, and books the task; recordInfo answers the task's record as of the emulator's clock.
"""

from __future__ import annotations

import json

import httpx

from ._market import create_problem
from ._replies import NO_ACCESS, authorized, error_reply, ok_reply
from ._results import result_json
from ._state import Config, State
from ._tasks import Task
from ._uploads import FileStore

__all__ = ["TaskHandlers"]


class TaskHandlers:
    """createTask, recordInfo and credits over the emulator's books (``state``) and options (``config``)."""

    def __init__(self, state: State, config: Config, files: FileStore) -> None:
        self._state = state
        self._config = config
        self._files = files

    def record(self, task: Task, now: float) -> dict[str, object]:
        """The recordInfo ``data`` of ``task`` at ``now``. Lock held."""
        return task.record(now, result_json(task, self._state.urls["files"]))

    def create_task(self, request: httpx.Request) -> httpx.Response:
        """``POST /api/v1/jobs/createTask``."""
        config, state = self._config, self._state
        if not authorized(request, config.api_key):
            return error_reply(config, 401, NO_ACCESS)
        try:
            body = json.loads(request.content)
        except ValueError:
            return error_reply(config, 422, "request body must be JSON")
        problem = create_problem(body, self._files.input_file)
        if problem is not None:
            return error_reply(config, 422, problem)
        outcome = config.outcome(body)
        with state.lock:
            now = config.clock()
            state.settle(now)
            refusal = state.limits.refuse_create(
                now,
                len(state.unsettled),
                rate_limit=config.rate_limit,
                rate_window=config.rate_window,
                max_running=config.max_running,
            )
            if refusal is not None:
                # Reference §6: excess requests get 429 and are not queued.
                return error_reply(config, 429, refusal)
            if state.credits < config.task_cost:
                return error_reply(config, 402, "Insufficient credits")
            state.credits -= config.task_cost
            state.create_times.append(now)
            # Ids look like kie.ai's (task_gpt-image_<epoch ms>), kept unique under a frozen clock.
            state.last_task_ms = max(int(now * 1000), state.last_task_ms + 1)
            schedule = config.schedule.for_task(state.random)
            task_id = f"task_gpt-image_{state.last_task_ms}"
            task = Task(task_id, body, now, outcome, config.task_cost, schedule)
            state.tasks[task.task_id] = task
            state.unsettled.append(task)
            state.limits.created(now, len(state.unsettled) - task.is_final(now))
        return ok_reply({"taskId": task.task_id})

    def record_info(self, request: httpx.Request) -> httpx.Response:
        """``GET /api/v1/jobs/recordInfo?taskId=...``."""
        config, state = self._config, self._state
        if not authorized(request, config.api_key):
            return error_reply(config, 401, NO_ACCESS)
        task_id = request.url.params.get("taskId", "")
        with state.lock:
            now = config.clock()
            state.settle(now)
            refusal = state.limits.refuse_poll(
                now, poll_limit=config.poll_limit, poll_window=config.poll_window
            )
            if refusal is not None:
                # Reference §2/§6: polling is limited to about 10 requests per second per key.
                return error_reply(config, 429, refusal)
            task = state.tasks.get(task_id)
            if task is None:
                if config.unknown_task_code == 422:
                    return error_reply(config, 422, "recordInfo is null")  # newer specs (reference §2)
                return error_reply(config, 404, "Task not found")
            return ok_reply(self.record(task, now))

    def credits(self, request: httpx.Request) -> httpx.Response:
        """``GET /api/v1/chat/credit``: the balance."""
        config, state = self._config, self._state
        if not authorized(request, config.api_key):
            return error_reply(config, 401, NO_ACCESS)
        with state.lock:
            state.settle(config.clock())
            return ok_reply(state.credits)
