"""Account pools: which of a provider's accounts serves a request, and in what order to try them.

A provider with several accounts (`providers.codex.accounts`, or logins stored with `router
login --account`) gets one provider instance per account, gathered here in a `Pool`. The pool
only orders the accounts; the dispatcher skips those on cooldown and moves on when one runs dry.

Strategies:
- `fill-first`: always in the configured order, so the first account is used up before the next.
- `round-robin`: each request starts one account further along.
- `sticky` (the default): a client session stays on the account that served it, so its prompt
  cache and reasoning chain stay valid upstream; a new session is placed round-robin, and a
  session moves only when its account cannot serve (cooling down or failing).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from router.conversation import Request
from router.provider import Provider

SESSIONS_KEPT = 10_000
"""Sticky sessions remembered (least recently used dropped first): a bounded map, whatever the traffic."""


@dataclass(frozen=True, slots=True)
class Account:
    """One provider instance serving one account; `name` is its label in config, logs and status."""

    provider: str
    name: str
    instance: Provider[Any]


class Sessions:
    """Which account each client session was last served by, per provider (bounded, least recent dropped).

    `on_change` is told of every new or moved assignment (the state store keeps them across
    restarts); a session served again by the same account costs a dictionary move only.
    """

    def __init__(
        self,
        loaded: Mapping[str, tuple[str, str]] | None = None,
        *,
        on_change: Callable[[str, str, str], None] | None = None,
        kept: int = SESSIONS_KEPT,
    ) -> None:
        self._held: OrderedDict[str, str] = OrderedDict()
        for key, (_provider, account) in (loaded or {}).items():
            self._held[key] = account
        while len(self._held) > kept:
            self._held.popitem(last=False)
        self._on_change = on_change
        self._kept = kept

    @staticmethod
    def key(session: str, provider: str) -> str:
        return f"{provider}\x1f{session}"

    def get(self, session: str, provider: str) -> str | None:
        return self._held.get(self.key(session, provider))

    def served(self, session: str, provider: str, account: str) -> None:
        key = self.key(session, provider)
        if self._held.get(key) == account:
            self._held.move_to_end(key)
            return
        self._held[key] = account
        self._held.move_to_end(key)
        if len(self._held) > self._kept:
            self._held.popitem(last=False)
        if self._on_change is not None:
            self._on_change(key, provider, account)

    def __len__(self) -> int:
        return len(self._held)


def session_of(request: Request) -> str | None:
    """The client session a request belongs to: Claude Code's session header, else `metadata.user_id`.

    Claude Code's `user_id` embeds the session id, so either identifies one session; other
    clients that send neither are not sticky (each request is placed afresh).
    """
    if request.session_id:
        return request.session_id
    user = request.metadata.get("user_id") if request.metadata else None
    return user if isinstance(user, str) and user else None


class Pool:
    """A provider's accounts in configured order, and the strategy that orders them per request."""

    def __init__(self, provider: str, accounts: Sequence[Account], strategy: str = "sticky") -> None:
        if not accounts:
            raise ValueError(f"provider '{provider}' has no account")
        self.provider = provider
        self.accounts = tuple(accounts)
        self.strategy = strategy
        self._by_name = {account.name: account for account in self.accounts}
        self._turn = 0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    @property
    def first(self) -> Account:
        """The account used where one is enough (counting tokens, listing models)."""
        return self.accounts[0]

    def get(self, name: str) -> Account | None:
        return self._by_name.get(name)

    def order(
        self,
        session: str | None,
        sessions: Sessions,
        *,
        only: Sequence[str] | None = None,
        strategy: str | None = None,
    ) -> list[Account]:
        """The accounts to try for one request, best first; `only` limits them (a rule's `accounts:`)."""
        accounts = list(self.accounts) if only is None else [self._by_name[n] for n in only if n in self._by_name]
        if len(accounts) < 2:
            return accounts
        strategy = strategy or self.strategy
        if strategy == "fill-first":
            return accounts
        if strategy == "sticky" and session is not None:
            held = sessions.get(session, self.provider)
            for position, account in enumerate(accounts):
                if account.name == held:
                    return [account, *accounts[:position], *accounts[position + 1 :]]
        start = self._turn % len(accounts)
        self._turn += 1
        return [*accounts[start:], *accounts[:start]]
