"""`.env.example` copied to `.env` (the README's first step) is read as it stands: a blank
value is "not set", never a parse error that stops the start."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_the_example_env_file_loads_with_every_blank_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process's own variables are put aside: the file alone is read."""
    names = [line.split("=", 1)[0] for line in EXAMPLE.read_text().splitlines() if "=" in line]
    for name in names:
        if not name.startswith("#"):
            monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=EXAMPLE)  # type: ignore[call-arg]
    # e-mail in and out off, no PBX API keys: the blanks of the example
    assert (settings.imap_host, settings.imap_port, settings.smtp_host, settings.smtp_port) == (
        None,
        None,
        None,
        None,
    )
    assert settings.zadarma_api_key is None and settings.smtp_password is None
