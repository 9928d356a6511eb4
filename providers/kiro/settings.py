"""The `providers.kiro` section of the config, and where its credentials come from.

Every endpoint is a setting, and so are the request's content type and an `X-Amz-Target`
header: the Kiro host has changed before (`codewhisperer.{region}` -> `q.{region}`), and a
newer client speaks awsJson to `runtime.{region}.kiro.dev` (protocol sheet, "Biggest
uncertainties"), so a change there should need a config edit, not a release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from providers.kiro.auth import SOCIAL_REFRESH_URL
from providers.kiro.identity import KIRO_VERSION
from providers.kiro.tokens import (
    DEFAULT_REGION,
    TOKEN_FILE_NAME,
    CredentialStore,
    StaticCredentials,
    TokenFile,
    default_token_path,
)
from providers.kiro.translate import DEFAULT_MAX_PAYLOAD_BYTES
from router.settings import check_field

DEFAULT_API_URL = "https://q.{region}.amazonaws.com"
CHAT_PATH = "/generateAssistantResponse"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_URL = re.compile(r"https?://[^\s/]+")


@dataclass(frozen=True, slots=True)
class KiroSettings:
    """The `providers.kiro` section.

    Credentials come from the Kiro IDE's token file unless `access_token`/`refresh_token`
    are given (then `profile_arn`, `region`, `client_id` and `client_secret` describe that
    login). `api_url` and `social_refresh_url` may contain `{region}`.
    """

    api_url: str = DEFAULT_API_URL
    api_region: str | None = None
    chat_path: str = CHAT_PATH
    content_type: str = "application/json"
    target: str | None = None
    social_refresh_url: str = SOCIAL_REFRESH_URL
    oidc_endpoint_url: str | None = None
    token_file: Path | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    profile_arn: str | None = None
    region: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    thinking_mode: Literal["tags", "native", "off"] = "tags"
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    models_ttl: float = 3600.0
    kiro_version: str = KIRO_VERSION
    model_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("api_url", "social_refresh_url", "oidc_endpoint_url"):
            value = getattr(self, name)
            check_field(value is None or bool(_URL.match(value)), name, "must be an http(s) URL")
        for name in ("api_region", "region"):
            value = getattr(self, name)
            check_field(
                value is None or bool(_REGION.fullmatch(value)), name, "must be an AWS region like us-east-1"
            )
        check_field(self.chat_path.startswith("/"), "chat_path", "must start with /")
        check_field(bool(self.content_type.strip()), "content_type", "must not be empty")
        check_field(
            self.target is None or bool(self.target.strip()), "target", "must not be empty (omit it instead)"
        )
        check_field(self.max_payload_bytes > 0, "max_payload_bytes", "must be greater than 0")
        check_field(self.models_ttl > 0, "models_ttl", "must be greater than 0")
        check_field(
            bool(re.fullmatch(r"[0-9A-Za-z.+-]+", self.kiro_version)), "kiro_version", "must be a version"
        )
        for key, value in self.model_map.items():
            check_field(bool(key.strip() and value.strip()), "model_map", "names must not be empty")
        static = bool(self.access_token or self.refresh_token)
        for name in ("profile_arn", "region", "client_id", "client_secret"):
            check_field(
                static or getattr(self, name) is None,
                name,
                "only applies to tokens given here (access_token/refresh_token)",
            )
        check_field(
            not (static and self.token_file),
            "token_file",
            "give either token_file or access_token/refresh_token, not both",
        )
        check_field(
            bool(self.client_id) == bool(self.client_secret),
            "client_secret",
            "client_id and client_secret go together (an IAM Identity Center login)",
        )


def credential_store(settings: KiroSettings, account_dir: Path | None = None) -> CredentialStore:
    """Tokens from the config when given, else `token_file`, else the Kiro IDE's token file.

    `account_dir` is a named account's state folder: without a `token_file`, its login is the
    token file there, so a second account never silently borrows the IDE's (the first) login.
    """
    if settings.access_token or settings.refresh_token:
        return StaticCredentials(
            access_token=settings.access_token or "",
            refresh_token=settings.refresh_token or "",
            region=settings.region or DEFAULT_REGION,
            profile_arn=settings.profile_arn,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
        )
    if settings.token_file is not None:
        return TokenFile(settings.token_file)
    return TokenFile(account_dir / TOKEN_FILE_NAME if account_dir is not None else default_token_path())
