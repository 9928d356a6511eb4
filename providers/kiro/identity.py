"""How the router introduces itself to Kiro: the IDE's request headers and a per-install fingerprint.

Kiro's API is meant for the Kiro IDE, and every gateway of protocol sheet A3 sends what the
IDE sends: the AWS JS SDK user agent with `KiroIDE-<version>-<fingerprint>` appended (in
`user-agent` and `x-amz-user-agent`), `x-amzn-codewhisperer-optout: true` (no data
sharing), `x-amzn-kiro-agent-mode: vibe`, and the SDK's `amz-sdk-invocation-id` /
`amz-sdk-request` pair. The fingerprint is a random 64-hex value made once per install and
kept in the provider's state folder, so the router looks like one stable installation
rather than a new machine on every start (JWG hashes the host instead; C2C keeps a random one).
"""

from __future__ import annotations

import hashlib
import logging
import platform
import re
import sys
import uuid
from pathlib import Path

from router.toolkit.secretfile import write_private_text

SDK_VERSION = "1.0.34"
"""`@aws/codewhisperer-streaming-client` version in the user agent (AIC, the newest source)."""
KIRO_VERSION = "0.11.63"
"""Kiro IDE version in the user agent (AIC; it notes that newer versions there broke requests)."""
NODE_VERSION = "22.21.1"
"""The Node.js version an Electron-based Kiro IDE reports; only cosmetic."""
FINGERPRINT_FILE = "fingerprint"
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def install_fingerprint(state_dir: Path, logger: logging.Logger | None = None) -> str:
    """This install's fingerprint: read from `state_dir/fingerprint`, created there on first use.

    A state folder that cannot be written only costs stability: a fresh value is used for
    this run (and logged at debug level), requests still work.
    """
    path = state_dir / FINGERPRINT_FILE
    try:
        stored = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        stored = ""
    if _FINGERPRINT.fullmatch(stored):
        return stored
    value = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        write_private_text(path, value + "\n")
    except OSError as exc:
        (logger or logging.getLogger(__name__)).debug("cannot keep the Kiro fingerprint in %s: %s", path, exc)
    return value


class Identity:
    """The IDE-like headers for one install and Kiro version."""

    def __init__(self, kiro_version: str, fingerprint: str) -> None:
        self.kiro = f"KiroIDE-{kiro_version}-{fingerprint}"
        self._system = f"os/{sys.platform}#{platform.release() or 'unknown'} lang/js md/nodejs#{NODE_VERSION}"

    def user_agent(self, api: str = f"codewhispererstreaming#{SDK_VERSION}", mode: str = "m/E") -> str:
        """The SDK's user agent for API `api` (llmhub names `codewhispererruntime#1.0.0` for the model list)."""
        return f"aws-sdk-js/{SDK_VERSION} ua/2.1 {self._system} api/{api} {mode} {self.kiro}"

    def refresh_headers(self) -> dict[str, str]:
        """For the social refresh endpoint: JWG and C2C send the bare IDE identifier."""
        return {"user-agent": self.kiro}

    def api_headers(
        self, access_token: str, *, attempt: int = 1, attempts: int = 1, runtime: bool = False
    ) -> dict[str, str]:
        """Headers of one API call; `runtime` selects the user agent of the model-list/usage calls."""
        agent = self.user_agent("codewhispererruntime#1.0.0", "m/N,E") if runtime else self.user_agent()
        return {
            "authorization": f"Bearer {access_token}",
            "user-agent": agent,
            "x-amz-user-agent": f"aws-sdk-js/{SDK_VERSION} {self.kiro}",
            "x-amzn-codewhisperer-optout": "true",
            "x-amzn-kiro-agent-mode": "vibe",
            "amz-sdk-invocation-id": str(uuid.uuid4()),
            "amz-sdk-request": f"attempt={attempt}; max={attempts}",
        }
