"""Shipped for `leadbot sandbox` and the tests, never on a production path: the emulated Bot API
and the sandbox. Only the CLI imports them (an import contract checks)."""
