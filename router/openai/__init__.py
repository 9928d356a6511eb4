"""OpenAI Chat Completions as a second client dialect: pure translation to and from the canonical model."""
