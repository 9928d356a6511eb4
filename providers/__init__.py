"""Built-in provider plugins."""
