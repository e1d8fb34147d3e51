"""The conformance suite: the client against a server, the emulator or a real Ollama."""
