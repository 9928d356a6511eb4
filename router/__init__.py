"""Switchyard: an Anthropic Messages API router over pluggable backends."""

from router.hookspecs import hookimpl
from router.provider import CredentialStatus, ModelInfo, Provider, ProviderContext
from router.settings import InvalidField, build_settings

__version__ = "0.1.0"

__all__ = [
    "CredentialStatus",
    "InvalidField",
    "ModelInfo",
    "Provider",
    "ProviderContext",
    "__version__",
    "build_settings",
    "hookimpl",
]
