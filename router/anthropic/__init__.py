"""The Anthropic Messages dialect: the only client-facing wire format."""
