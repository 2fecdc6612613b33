"""The real application against the emulated Bot API (and the CLI, the emulator, the sandbox)."""
