"""First-party plugins of ollama-core, importable as ``ollama_plugins``."""
