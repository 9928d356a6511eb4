"""Logging set-up: one handler whose formatter scrubs anything shaped like a secret.

Redaction happens on the fully formatted line (message, arguments and traceback alike), so
no code path, provider or library can leak a token into the log by forgetting to mask it.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

_KEEP_PREFIX = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"""(?i)(["']?(?:access_?token|refresh_?token|id_?token|api_?key|x-api-key|client_?secret|"""
        r"""authorization|password|secret)["']?\s*[:=]\s*["']?)(?!bearer\b|\[redacted)[^"'\s,}]{4,}"""
    ),
)
_WHOLE = (
    re.compile(r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"),
    re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_-]{8,}"),
)
REDACTED = "[redacted]"
QUIET_LIBRARIES = ("httpx", "httpcore", "botocore", "boto3", "urllib3")
"""Kept at WARNING even at `debug`: their debug lines are wire traffic, and botocore's hold whole
request and response bodies (a Kiro IdC refresh: the client secret and every token), which
must not reach any handler, not only have this one's formatter scrub them."""


def redact(text: str) -> str:
    """`text` with every secret-shaped substring replaced."""
    for pattern in _WHOLE:
        text = pattern.sub(REDACTED, text)
    for pattern in _KEEP_PREFIX:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter whose output never contains a token, key or password."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Route the router's, the providers' and uvicorn's logs through one redacting handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the router writes its own access line
    for noisy in QUIET_LIBRARIES:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
