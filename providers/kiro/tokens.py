"""Where Kiro credentials come from: the Kiro IDE's token cache, or tokens given in the config.

The router borrows the IDE's login instead of keeping its own (protocol sheet A1):
`~/.aws/sso/cache/kiro-auth-token.json` (camelCase: `accessToken`, `refreshToken`,
`expiresAt` ISO-8601, `region`, `profileArn`, `authMethod`, `clientIdHash`, …). `KIRO_AUTH_FILE`
overrides the path (C2C's convention; JWG's `KIRO_CREDS_FILE` is not read). An IdC
(IAM Identity Center / Builder ID) login has a companion client registration
`<clientIdHash>.json` beside it (`clientId`, `clientSecret`, `expiresAt` or
`registrationExpiresAt`), or inline `clientId`/`clientSecret`; a login with neither is a
"social" (Kiro desktop) login. Kind is decided by those fields, not by `authMethod`.

The file belongs to the IDE, so writes are careful: only the rotated fields change
(`accessToken`, `refreshToken`, `expiresAt`, `profileArn`), every other field keeps its
value, position and layout (indent and separators are detected and reproduced), and the
file is replaced atomically (temp file in the same folder, 0600, fsync, `os.replace`).
`StaticCredentials` holds tokens from the config instead and keeps rotations in memory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeAlias

from providers.kiro.failures import PROVIDER, SIGN_IN_AGAIN
from router.errors import AuthError
from router.toolkit.clock import iso_utc, parse_iso_time
from router.toolkit.loginfile import parse_login_json, read_login_text
from router.toolkit.secretfile import write_private_text

DEFAULT_REGION = "us-east-1"
TOKEN_FILE_NAME = "kiro-auth-token.json"
ENV_AUTH_FILE = "KIRO_AUTH_FILE"
LoginKind: TypeAlias = Literal["social", "idc"]
_INDENT = re.compile(r"\{[ \t]*\r?\n([ \t]+)\"")


def default_token_path(env: Mapping[str, str] | None = None) -> Path:
    """`$KIRO_AUTH_FILE` if set, else `~/.aws/sso/cache/kiro-auth-token.json`."""
    env = os.environ if env is None else env
    if override := env.get(ENV_AUTH_FILE, "").strip():
        return Path(override).expanduser()
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".aws" / "sso" / "cache" / TOKEN_FILE_NAME


def parse_time(value: Any) -> float | None:
    """An `expiresAt`-style value as epoch seconds: ISO-8601 (with `Z`), or epoch seconds/milliseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / 1000 if value > 1e11 else float(value)
    return parse_iso_time(value)


def iso_time(moment: float) -> str:
    """Epoch seconds as the IDE writes them (JavaScript's `toISOString`): `2026-01-02T03:04:05.678Z`."""
    return iso_utc(moment, timespec="milliseconds")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class KiroLogin:
    """One Kiro login; the repr leaves the secrets out."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float | None
    region: str = DEFAULT_REGION
    profile_arn: str | None = None
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    registration_expires_at: float | None = None
    registration_path: str | None = None
    auth_method: str | None = None

    @property
    def kind(self) -> LoginKind:
        """`idc` when a client registration exists (or is expected), else `social`."""
        if self.client_id and self.client_secret:
            return "idc"
        return "idc" if self.registration_path and self.auth_method != "social" else "social"

    def same_tokens(self, other: KiroLogin) -> bool:
        """Whether `other` holds the same access and refresh tokens."""
        return (self.access_token, self.refresh_token) == (other.access_token, other.refresh_token)

    def rotated(
        self, access_token: str, refresh_token: str | None, expires_at: float, profile_arn: str | None
    ) -> KiroLogin:
        """This login after a refresh; a refresh token or profile the reply omitted stays as it was."""
        return dataclasses.replace(
            self,
            access_token=access_token,
            refresh_token=refresh_token or self.refresh_token,
            expires_at=expires_at,
            profile_arn=profile_arn or self.profile_arn,
        )


class CredentialStore(Protocol):
    """Where a `TokenManager` reads a login from and writes rotations to."""

    @property
    def where(self) -> str:
        """Where the login lives, for messages (a path, or "the router config")."""

    @property
    def shared_file(self) -> Path | None:
        """The file other processes may refresh too (refreshes lock it), or None when there is none."""

    def load(self) -> KiroLogin:
        """The login as it is now (re-read each time: another program may have rotated it)."""

    def save_rotation(self, login: KiroLogin) -> None:
        """Keep refreshed tokens; raises `AuthError` when they cannot be written."""


def _auth_error(message: str) -> AuthError:
    return AuthError(message, provider=PROVIDER)


class TokenFile:
    """The Kiro IDE's token cache (and its companion client registration)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_token_path()

    def __repr__(self) -> str:
        return f"TokenFile({str(self.path)!r})"

    @property
    def where(self) -> str:
        """The file's path."""
        return str(self.path)

    @property
    def shared_file(self) -> Path:
        """The file itself: the IDE and other routers may use it too."""
        return self.path

    def load(self) -> KiroLogin:
        """The login in the file; `AuthError` saying how to sign in when there is none."""
        text = self._read_text(self.path)
        if text is None:
            raise _auth_error(f"No Kiro login found at {self.path}. {SIGN_IN_AGAIN}")
        document = self._parse(text, self.path)
        access = _text(document.get("accessToken"))
        if access is None:
            raise _auth_error(f"The Kiro login file {self.path} holds no access token. {SIGN_IN_AGAIN}")
        login = KiroLogin(
            access_token=access,
            refresh_token=_text(document.get("refreshToken")) or "",
            expires_at=parse_time(document.get("expiresAt")),
            region=_text(document.get("region")) or DEFAULT_REGION,
            profile_arn=_text(document.get("profileArn")),
            client_id=_text(document.get("clientId")),
            client_secret=_text(document.get("clientSecret")),
            auth_method=_text(document.get("authMethod")),
        )
        return self._with_registration(login, _text(document.get("clientIdHash")), document)

    def _with_registration(
        self, login: KiroLogin, client_id_hash: str | None, document: Mapping[str, Any]
    ) -> KiroLogin:
        """Fill in the companion registration `<clientIdHash>.json`, when there is one."""
        if client_id_hash is None or (login.client_id and login.client_secret):
            return login
        path = self.path.parent / f"{client_id_hash}.json"
        text = self._read_text(path)
        registration = self._parse(text, path) if text is not None else {}
        expires = registration.get("registrationExpiresAt") or registration.get("expiresAt")
        region = _text(document.get("region")) or _text(registration.get("region")) or DEFAULT_REGION
        return dataclasses.replace(
            login,
            client_id=_text(registration.get("clientId")),
            client_secret=_text(registration.get("clientSecret")),
            registration_expires_at=parse_time(expires),
            registration_path=str(path),
            region=region,
        )

    @staticmethod
    def _read_text(path: Path) -> str | None:
        return read_login_text(path, "Kiro login file", provider=PROVIDER)

    @staticmethod
    def _parse(text: str, path: Path) -> dict[str, Any]:
        return parse_login_json(text, path, "Kiro login file", SIGN_IN_AGAIN, provider=PROVIDER)

    def save_rotation(self, login: KiroLogin) -> None:
        """Write refreshed tokens back, touching only the token fields, in the file's own layout."""
        text = self._read_text(self.path)
        if text is None:
            raise _auth_error(f"The Kiro login file {self.path} disappeared during a refresh.")
        document = self._parse(text, self.path)
        document["accessToken"] = login.access_token
        document["refreshToken"] = login.refresh_token
        if login.expires_at is not None:
            document["expiresAt"] = iso_time(login.expires_at)
        if login.profile_arn and "profileArn" in document:
            document["profileArn"] = login.profile_arn
        try:
            write_private_text(self.path, dump_like(document, text))
        except OSError as exc:
            raise _auth_error(
                f"Cannot write the Kiro login file {self.path}: {exc.strerror or exc}."
            ) from None


def dump_like(document: Mapping[str, Any], original: str) -> str:
    """`document` as JSON in the layout of `original`: its indent, separators and final newline.

    JavaScript's `JSON.stringify(x, null, 2)` and Python's `json.dumps(x, indent=2)` agree
    byte for byte on strings and integers, so untouched fields come out exactly as they were.
    """
    match = _INDENT.search(original)
    if match is not None:
        text = json.dumps(document, indent=match.group(1), ensure_ascii=False)
    else:
        item = ", " if re.search(r',\s"', original) else ","
        key = ": " if re.search(r'":\s', original) else ":"
        text = json.dumps(document, separators=(item, key), ensure_ascii=False)
    return text + "\n" if original.endswith("\n") else text


class StaticCredentials:
    """Tokens given in the config (`access_token`/`refresh_token`, …); rotations stay in memory.

    Without `client_id`/`client_secret` the refresh token is a social (Kiro desktop) one.
    """

    def __init__(
        self,
        *,
        access_token: str = "",
        refresh_token: str = "",
        expires_at: float | None = None,
        region: str = DEFAULT_REGION,
        profile_arn: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        if not access_token and not refresh_token:
            raise _auth_error("Kiro credentials in the config need an access_token or a refresh_token.")
        self._login = KiroLogin(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=expires_at if access_token else 0.0,
            region=region,
            profile_arn=profile_arn,
            client_id=client_id,
            client_secret=client_secret,
        )

    def __repr__(self) -> str:
        return "StaticCredentials(…)"

    @property
    def where(self) -> str:
        """Config-given tokens live in the router config."""
        return "the router config"

    @property
    def shared_file(self) -> None:
        """Config-given tokens are this process's own: no file to lock."""
        return None

    def load(self) -> KiroLogin:
        """The configured login, or the latest rotation of it."""
        return self._login

    def save_rotation(self, login: KiroLogin) -> None:
        """Keep the rotation in memory (the config file is never rewritten)."""
        self._login = login
