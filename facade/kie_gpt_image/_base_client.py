"""What ``Client`` and ``AsyncClient`` share: the resolved settings, the driver, the properties, and the
constructor's option handling (each option listed once, in each client's explicit signature)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._deadline import Deadlines
    from ._drivers import AsyncDriver, SyncDriver
    from ._models import TaskInfo
    from ._policies import PollPolicy, RetryPolicy
    from ._scheduler import RateLimits
    from ._settings import Settings

__all__ = ["BaseClient", "ProgressCallback", "check_one_of", "check_wait_timeout", "shared_options"]

ProgressCallback = Callable[["TaskInfo"], object]
"""Called with the task's record each time its state changes (``AsyncClient`` also awaits an
``async def`` callback)."""

# The arguments of a client's ``__init__`` that are not shared options but the driver's own.
_DRIVER_ARGUMENTS = frozenset({"self", "__class__", "transport", "http_client", "sleep"})


def shared_options(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The shared options among a client's ``__init__`` arguments (its ``locals()``), by name: each is
    listed once, in the explicit signature, and handed to ``Settings.resolve`` whole (a test checks that
    both clients take the same ones)."""
    return {name: value for name, value in arguments.items() if name not in _DRIVER_ARGUMENTS}


class BaseClient:
    """What both clients share: the resolved settings, the driver, and the properties."""

    _driver: SyncDriver | AsyncDriver

    def _start(self, driver: SyncDriver | AsyncDriver) -> None:
        self._driver = driver
        settings = driver.settings
        self.base_url = settings.base_url
        """The API host (``base_url``, else ``KIE_BASE_URL``, else kie.ai's)."""
        self.upload_base_url = settings.upload_base_url
        """The File Upload API host (``upload_base_url``, else ``KIE_UPLOAD_BASE_URL``, else kie.ai's)."""
        self.max_reply_bytes = settings.max_reply_bytes
        """Cap on the size of one kie.ai reply, after decoding."""
        self.max_download_bytes = settings.max_download_bytes
        """Cap on the size of one downloaded result."""
        self.allow_http_callback = settings.allow_http_callback
        """Whether a plain-http ``callback_url`` is accepted (loopback tests)."""

    @property
    def settings(self) -> Settings:
        """Everything this client was configured with, resolved (``kie_gpt_image._settings``)."""
        return self._driver.settings

    @property
    def deadlines(self) -> Deadlines:
        """The total deadlines of a request and of a result download (see ``kie_gpt_image._deadline``)."""
        return self._driver.settings.deadlines

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._driver.flows.retry

    @property
    def poll_policy(self) -> PollPolicy:
        """The polling policy in force."""
        return self._driver.flows.poll

    @property
    def rate_limits(self) -> RateLimits:
        """The account limits every call of this client keeps to (``RateLimits``)."""
        return self._driver.scheduler.limits

    @property
    def _key_source(self) -> str:
        return self._driver.key_source

    @_key_source.setter
    def _key_source(self, source: str) -> None:
        # The CLI reads the key itself: a 401 then names where the user put it (``--api-key-file``).
        self._driver.key_source = source

    def poll_now(self, task_id: str) -> int:
        """Word that ``task_id`` finished (say, a callback your own handler received): every ``wait`` on it
        in this client (``edit``, ``wait``, ``edit_many``, ``wait_many``) polls now instead of at its next
        scheduled poll, and the poll confirms it; nothing is trusted from the word itself.

        A receiver given this client (``handle_callback``, ``asgi_receiver(..., client=client)``) needs no
        call: the record it reads ends those waits without another poll.

        Returns:
            How many waits were woken (0: none was waiting on it; nothing is kept for later).
        """
        from ._engine import check_task_id

        return self._driver.flows.board.post(check_task_id(task_id))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, upload_base_url={self.upload_base_url!r})"


def check_one_of(http_client: object, transport: object) -> None:
    from ._errors import InvalidInputError

    if http_client is not None and transport is not None:
        raise InvalidInputError("transport", "give transport or http_client, not both")


def check_wait_timeout(timeout: float | None) -> None:
    from ._engine import check_timeout

    check_timeout(timeout)
