"""Switchyard: an Anthropic Messages API router over pluggable backends."""

from router.hookspecs import hookimpl
from router.provider import CredentialStatus, ModelInfo, Provider, ProviderContext

__version__ = "0.1.0"

__all__ = ["CredentialStatus", "ModelInfo", "Provider", "ProviderContext", "__version__", "hookimpl"]
