"""The Codex CLI's token file (`$CODEX_HOME/auth.json`) and the JWT claims inside it.

The router shares the ChatGPT login with the Codex CLI instead of keeping its own, so
this module is careful with a file that belongs to another program:

- reads tolerate unknown fields and every `auth_mode` the CLI may grow;
- rotations rewrite only the token fields and `last_refresh`, leaving every other field
  and the key order as they were (the CLI's own writes drop fields it does not know, ours
  do not);
- writes are atomic (temp file in the same directory, fsync, rename), so the CLI never
  reads half a file, and the file is 0600 before it becomes visible;
- errors say where the file was expected and how to log in, and never carry a token.

JWTs are decoded without verifying signatures: the router only reads its own tokens to
learn their expiry, account and plan, and the backend verifies them on every request.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.errors import AuthError
from router.provider import DEFAULT_ACCOUNT
from router.toolkit.clock import iso_utc, parse_iso_time
from router.toolkit.loginfile import parse_login_json, read_login_text
from router.toolkit.secretfile import write_private_text

PROVIDER = "codex"
LOGIN_HINT = "Run `router login codex` (or `codex login`) to sign in with your ChatGPT account."


def login_hint(account: str = DEFAULT_ACCOUNT) -> str:
    """How to sign in the login an error is about: a named account's is its own (`--account`)."""
    if account == DEFAULT_ACCOUNT:
        return LOGIN_HINT
    return f"Run `router login codex --account {account}` to sign this account in with its ChatGPT account."
# Top-level field marking a file the router wrote from scratch (login or import). The Codex
# CLI drops unknown fields whenever it rewrites the file, so the mark disappears exactly
# when the file has become the CLI's too; `logout` deletes only marked files.
WRITER_FIELD = "written_by"
WRITER = "switchyard-router"
_AUTH_CLAIMS = "https://api.openai.com/auth"
_PROFILE_CLAIMS = "https://api.openai.com/profile"
_TOKEN_FIELDS = ("id_token", "access_token", "refresh_token")


def default_auth_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the Codex CLI keeps its login: `$CODEX_HOME/auth.json`, `~/.codex/auth.json` by default."""
    env = os.environ if env is None else env
    if codex_home := env.get("CODEX_HOME", "").strip():
        return Path(codex_home).expanduser() / "auth.json"
    return _home(env) / ".codex" / "auth.json"


def default_opencode_path(env: Mapping[str, str] | None = None) -> Path:
    """Where opencode keeps provider credentials: `$XDG_DATA_HOME/opencode/auth.json` (XDG default)."""
    env = os.environ if env is None else env
    if data_home := env.get("XDG_DATA_HOME", "").strip():
        return Path(data_home).expanduser() / "opencode" / "auth.json"
    return _home(env) / ".local" / "share" / "opencode" / "auth.json"


def _home(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def decode_jwt(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified; `{}` when `token` is not a decodable JWT."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a login belongs to, read from its JWTs: nothing here is secret."""

    email: str | None = None
    plan: str | None = None
    account_id: str | None = None
    expires_at: float | None = None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def jwt_identity(token: str) -> Identity:
    """Email, plan, ChatGPT account id and expiry claimed by one JWT."""
    claims = decode_jwt(token)
    auth = claims.get(_AUTH_CLAIMS)
    auth = auth if isinstance(auth, dict) else {}
    profile = claims.get(_PROFILE_CLAIMS)
    profile = profile if isinstance(profile, dict) else {}
    exp = claims.get("exp")
    return Identity(
        email=_text(claims.get("email")) or _text(profile.get("email")),
        plan=_text(auth.get("chatgpt_plan_type")),
        account_id=_text(auth.get("chatgpt_account_id")),
        expires_at=float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None,
    )


@dataclass(frozen=True, slots=True)
class TokenSet:
    """The ChatGPT tokens of one login; the repr leaves the secrets out."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    id_token: str = field(repr=False)
    account_id: str | None
    last_refresh: float | None

    @property
    def expires_at(self) -> float | None:
        """When the access token expires (its JWT `exp`), or None when it does not say."""
        return jwt_identity(self.access_token).expires_at

    @property
    def identity(self) -> Identity:
        """Email, plan and account: the id token's claims first, the access token's to fill gaps."""
        first, second = jwt_identity(self.id_token), jwt_identity(self.access_token)
        return Identity(
            email=first.email or second.email,
            plan=first.plan or second.plan,
            account_id=self.account_id or first.account_id or second.account_id,
            expires_at=second.expires_at,
        )

    def same_tokens(self, other: TokenSet) -> bool:
        """Whether `other` holds the same access and refresh tokens (a rotation changes both)."""
        return (self.access_token, self.refresh_token) == (other.access_token, other.refresh_token)

    def rotated(self, fields: Mapping[str, str], now: float) -> TokenSet:
        """These tokens after a refresh that returned `fields` (a subset of the three token names)."""
        update = {name: fields[name] for name in _TOKEN_FIELDS if fields.get(name)}
        new = dataclasses.replace(self, last_refresh=now, **update)
        if new.account_id is None:
            new = dataclasses.replace(new, account_id=new.identity.account_id)
        return new


def rfc3339(moment: float) -> str:
    """`moment` as the UTC RFC 3339 timestamp the Codex CLI writes in `last_refresh`."""
    return iso_utc(moment, timespec="microseconds")


def write_private_json(path: Path, document: Mapping[str, Any]) -> None:
    """Replace `path` with `document` atomically, owner-only, in the Codex CLI's pretty-printed layout."""
    write_private_text(path, json.dumps(document, indent=2, ensure_ascii=False))


_WHAT = "Codex login file"


def _auth_error(message: str) -> AuthError:
    return AuthError(message, provider=PROVIDER)


class AuthFile:
    """One Codex-shaped `auth.json`: load the ChatGPT tokens, save rotations, write new logins."""

    def __init__(self, path: Path, account: str = DEFAULT_ACCOUNT) -> None:
        self.path = path
        self.account = account
        self.hint = login_hint(account)
        """What its errors tell the user to run."""

    def __repr__(self) -> str:
        return f"AuthFile({str(self.path)!r})"

    def read_document(self) -> dict[str, Any] | None:
        """The file's JSON object as it is on disk, or None when there is no file."""
        text = read_login_text(self.path, _WHAT, provider=PROVIDER)
        return None if text is None else parse_login_json(text, self.path, _WHAT, self.hint, provider=PROVIDER)

    def load(self) -> TokenSet:
        """The ChatGPT tokens in the file; `AuthError` saying how to log in when there are none."""
        document = self.read_document()
        if document is None:
            raise _auth_error(
                f"No Codex login found at {self.path}. {self.hint} If the Codex CLI stores its login in "
                'the OS keyring, set `cli_auth_credentials_store = "file"` in its config.toml and log in again.'
            )
        return self._tokens_of(document)

    def _tokens_of(self, document: Mapping[str, Any]) -> TokenSet:
        tokens = document.get("tokens")
        tokens = tokens if isinstance(tokens, dict) else {}
        access = _text(tokens.get("access_token"))
        if access is None:
            raise _auth_error(self._why_no_tokens(document))
        return TokenSet(
            access_token=access,
            refresh_token=_text(tokens.get("refresh_token")) or "",
            id_token=_text(tokens.get("id_token")) or "",
            account_id=_text(tokens.get("account_id")),
            last_refresh=parse_iso_time(document.get("last_refresh")),
        )

    def _why_no_tokens(self, document: Mapping[str, Any]) -> str:
        mode = document.get("auth_mode")
        if mode == "apikey" or (mode is None and document.get("OPENAI_API_KEY")):
            return (
                f"The Codex login at {self.path} uses an OpenAI API key; the Codex backend needs a ChatGPT "
                f"login instead. {self.hint}"
            )
        return f"The Codex login file {self.path} holds no ChatGPT tokens. {self.hint}"

    def _document_or_none(self) -> dict[str, Any] | None:
        try:
            return self.read_document()
        except AuthError:
            return None

    def holds_login(self) -> bool:
        """Whether the file holds any login worth protecting: ChatGPT tokens or an API key."""
        document = self._document_or_none()
        if document is None:
            return False
        tokens = document.get("tokens")
        has_tokens = isinstance(tokens, dict) and _text(tokens.get("access_token")) is not None
        return has_tokens or _text(document.get("OPENAI_API_KEY")) is not None

    def written_by_router(self) -> bool:
        """Whether the router wrote this file from scratch and the Codex CLI has not rewritten it since."""
        document = self._document_or_none()
        return document is not None and document.get(WRITER_FIELD) == WRITER

    def save_rotation(self, fields: Mapping[str, str], *, account_id: str | None, now: float) -> None:
        """Write refreshed tokens back, touching only the returned token fields and `last_refresh`.

        `fields` holds the tokens the endpoint returned; `account_id` is stored only when the
        file has none. Everything else, including key order, stays as it is on disk.
        """
        document = self.read_document()
        if document is None or not isinstance(document.get("tokens"), dict):
            raise _auth_error(
                f"The Codex login file {self.path} disappeared or lost its tokens during a refresh."
            )
        tokens = document["tokens"]
        for name in _TOKEN_FIELDS:
            if fields.get(name):
                tokens[name] = fields[name]
        if account_id and not _text(tokens.get("account_id")):
            tokens["account_id"] = account_id
        document["last_refresh"] = rfc3339(now)
        self._write(document)

    def write_login(
        self,
        *,
        id_token: str,
        access_token: str,
        refresh_token: str,
        now: float,
        account_id: str | None = None,
    ) -> TokenSet:
        """Replace the file with a fresh ChatGPT login, shaped the way the Codex CLI writes one."""
        tokens = TokenSet(access_token, refresh_token, id_token, account_id, now)
        account_id = tokens.identity.account_id
        document = {
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": None,
            "tokens": {
                "id_token": id_token,
                "access_token": access_token,
                "refresh_token": refresh_token,
                "account_id": account_id,
            },
            "last_refresh": rfc3339(now),
            WRITER_FIELD: WRITER,
        }
        self._write(document)
        return dataclasses.replace(tokens, account_id=account_id)

    def import_from(self, source: Path, *, now: float, force: bool = False) -> TokenSet:
        """Copy the ChatGPT login opencode keeps in `source` into this file.

        Assumed shape (opencode's own store, not a documented format; checked loosely):
        `{"openai": {"type": "oauth", "refresh": str, "access": str, "expires": ms epoch,
        "accountId"?: str}}`. opencode keeps no id token; the access token (a JWT with the same
        account claims) stands in for it, because the Codex CLI refuses a file whose id_token
        is not a JWT, and the next refresh replaces it with a real one. An existing login
        (ChatGPT tokens or an API key) is only replaced when `force` is set.
        """
        access, refresh, account_id = _read_opencode_entry(source)
        if not force and self.holds_login():
            raise _auth_error(
                f"{self.path} already holds a Codex login; not replacing it with the one from {source} "
                "unless forced."
            )
        return self.write_login(
            id_token=access, access_token=access, refresh_token=refresh, now=now, account_id=account_id
        )

    def _write(self, document: Mapping[str, Any]) -> None:
        try:
            write_private_json(self.path, document)
        except OSError as exc:
            raise _auth_error(
                f"Cannot write the Codex login file {self.path}: {exc.strerror or exc}."
            ) from None


def _read_opencode_entry(source: Path) -> tuple[str, str, str | None]:
    """The access token, refresh token and account id of opencode's `openai` OAuth entry in `source`."""
    entry: Any = None
    try:
        entry = json.loads(source.read_text(encoding="utf-8")).get("openai")
    except FileNotFoundError:
        raise _auth_error(f"No opencode credentials found at {source}.") from None
    except (OSError, ValueError, AttributeError):
        raise _auth_error(f"Cannot read opencode credentials from {source} (not a JSON object).") from None
    if not isinstance(entry, dict) or entry.get("type") != "oauth":
        raise _auth_error(f"{source} has no ChatGPT (OAuth) login for the `openai` provider. {LOGIN_HINT}")
    access, refresh = _text(entry.get("access")), _text(entry.get("refresh"))
    if access is None or refresh is None:
        raise _auth_error(f"The `openai` login in {source} lacks its access or refresh token. {LOGIN_HINT}")
    return access, refresh, _text(entry.get("accountId"))


@dataclass(frozen=True, slots=True)
class LogoutOutcome:
    """What `logout` did, and a line to show the user."""

    removed: bool
    message: str


def logout(auth_file: AuthFile) -> LogoutOutcome:
    """Forget the router's login without signing the Codex CLI out.

    Deletes the file only when the router wrote it from scratch and the Codex CLI has not
    rewritten it since (`AuthFile.written_by_router`). A file the CLI owns or shares is left
    alone, tokens included: clearing them would log the CLI out too. Tokens are not revoked,
    for the same reason: revoking a shared refresh token signs out every program using it.
    """
    path = auth_file.path
    if not path.exists():
        return LogoutOutcome(False, f"No Codex login file at {path}; nothing to do.")
    if not auth_file.written_by_router():
        return LogoutOutcome(
            False,
            f"Left {path} in place: it is the Codex CLI's login, which the router only borrows. "
            "Run `codex logout` to sign out of both, or point the router at another file.",
        )
    try:
        path.unlink()
    except OSError as exc:
        raise AuthError(f"Cannot remove {path}: {exc.strerror or exc}.", provider=PROVIDER) from None
    return LogoutOutcome(True, f"Removed the router's Codex login {path}.")
