"""Refreshing OAuth-style logins one at a time: a base class for providers whose tokens rotate.

Refresh tokens usually work once: two refreshes of the same token (two concurrent requests,
or the router and the backend's own IDE/CLI sharing a login file) sign the user out. So:

- one refresh at a time per login; callers that queued behind a failed attempt get its error
  instead of trying again at once;
- the stored login is read again just before refreshing, and tokens another program already
  rotated are adopted without a network call;
- when the login lives in a file other processes may refresh too (`shared_file`), re-read,
  refresh and write happen under that file's cross-process lock (`router.toolkit.filelock`),
  so two routers on one login send one refresh between them;
- a refresh runs shielded from its caller's cancellation, so tokens the authority already
  rotated are stored even when the request that asked for them went away;
- a permanent failure (`AuthError`) is remembered against its refresh token and repeated
  without a network call until the stored login changes;
- when a refresh fails but the current access token has not actually expired (it was only
  inside the margin), that token is still handed out.

Subclasses say how to load the stored login, how to refresh (and store) it, and, if the
default does not fit, when a login counts as fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Generic, Protocol, Self, TypeVar

from router.errors import AuthError, ProviderError
from router.toolkit.filelock import LOCK_TIMEOUT, credential_lock


class Login(Protocol):
    """What the refresh logic needs to know of a provider's stored login."""

    @property
    def access_token(self) -> str: ...

    @property
    def refresh_token(self) -> str: ...

    @property
    def expires_at(self) -> float | None: ...

    def same_tokens(self, other: Self) -> bool: ...


L = TypeVar("L", bound=Login)


class SingleFlightRefresh(ABC, Generic[L]):
    """Hands out fresh logins, refreshing them when due; safe to share between concurrent requests."""

    what: ClassVar[str] = "provider"
    """How log lines name the login (e.g. "ChatGPT", "Kiro")."""
    lock_timeout: float = LOCK_TIMEOUT
    """Seconds to wait for another process's refresh of a `shared_file` before giving up."""

    def __init__(self, *, refresh_margin: float, clock: Callable[[], float], logger: logging.Logger) -> None:
        self._margin = refresh_margin
        self._clock = clock
        self._log = logger
        self._login: L | None = None
        self._lock = asyncio.Lock()
        self._attempts = 0  # finished attempts: callers that queued before one see the count move
        self._last_error: ProviderError | None = None
        self._dead: tuple[str, AuthError] | None = None
        self._background: set[asyncio.Task[L]] = set()

    # -- what a provider supplies ---------------------------------------------------------

    @abstractmethod
    def load(self) -> L:
        """The stored login, read now; `AuthError` when there is none usable."""

    @property
    @abstractmethod
    def where(self) -> str:
        """Where the login is stored, for messages."""

    @abstractmethod
    async def refresh(self, login: L) -> L:
        """One refresh of `login` at the authority, stored; `AuthError` means the login is dead."""

    def fresh(self, login: L) -> bool:
        """Whether `login` may be used without refreshing: unknown expiry, or more than the margin left."""
        return login.expires_at is None or login.expires_at - self._clock() > self._margin

    @property
    def shared_file(self) -> Path | None:
        """The file the login lives in, when other processes may refresh it too; None: in memory only.

        Refreshes of a shared file hold its sidecar lock (`<name>.lock`) from the re-read to the write.
        """
        return None

    # -- what a provider calls --------------------------------------------------------------

    async def fresh_login(self) -> L:
        """A login for the next request, refreshed first when it is (nearly) due."""
        login = self.current()
        if self.fresh(login):
            return login
        try:
            return await self._rotate(self.fresh)
        except ProviderError:
            latest = self.current()
            if latest.expires_at is not None and latest.expires_at > self._clock():
                self._log.warning("%s token refresh failed; using the current access token until it expires",
                                  self.what)
                return latest
            raise

    async def replacing(self, stale_access_token: str) -> L:
        """A login whose access token is not `stale_access_token` (the backend refused it), for one replay.

        Refreshes at most once: tokens another task or program already rotated come back
        without a network call. Raises `AuthError` when the login is dead.
        """
        return await self._rotate(lambda current: current.access_token != stale_access_token)

    def current(self) -> L:
        """The login in memory (loaded on first use)."""
        if self._login is None:
            self._login = self.load()
        return self._login

    def dead_reason(self, login: L) -> AuthError | None:
        """Why `login` cannot be refreshed any more, if a refresh of it failed for good."""
        if self._dead is not None and self._dead[0] == login.refresh_token:
            return self._dead[1]
        return None

    # -- single flight -----------------------------------------------------------------------

    async def _rotate(self, good: Callable[[L], bool]) -> L:
        task = asyncio.ensure_future(self._rotate_locked(good, self._attempts))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return await asyncio.shield(task)

    async def _rotate_locked(self, good: Callable[[L], bool], ticket: int) -> L:
        async with self._lock:
            if self._attempts != ticket and self._last_error is not None:
                raise copy.copy(self._last_error)
            current = self.current()
            if good(current):
                return current
            async with contextlib.AsyncExitStack() as held:
                if (shared := self.shared_file) is not None:
                    try:
                        await held.enter_async_context(credential_lock(shared, timeout=self.lock_timeout))
                    except ProviderError as err:  # counts as a failed attempt: queued callers get it too
                        self._last_error = err
                        self._attempts += 1
                        raise
                return await self._reread_and_refresh(good, current)

    async def _reread_and_refresh(self, good: Callable[[L], bool], current: L) -> L:
        stored = self.load()
        if not stored.same_tokens(current):
            self._log.info("Adopted %s tokens rotated by another program in %s", self.what, self.where)
            self._login = stored
            if good(stored):
                return stored
        dead = self.dead_reason(stored)
        if dead is not None:
            raise copy.copy(dead)
        self._dead = None
        return await self._attempt(stored)

    async def _attempt(self, login: L) -> L:
        self._last_error = None
        try:
            rotated = await self.refresh(login)
        except AuthError as err:
            self._dead, self._last_error = (login.refresh_token, err), err
            raise
        except ProviderError as err:
            self._last_error = err
            raise
        finally:
            self._attempts += 1
        self._login = rotated
        return rotated
