"""`leadbot webhooks`: what an operator reads about outbound delivery, and how failed events
are sent again; `leadbot run` refuses to start without a webhook's secret."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.app.test_cli import _leadbot
from tests.harness import TOKEN

CONFIG = """
[[webhooks]]
name = "crm"
url = "https://crm.example/hooks/leadbot"
events = ["lead.created", "lead.converted"]
secret_env = "WEBHOOK_CRM_SECRET"

[crm.bitrix24]
"""


def _rows(tmp_path: Path, *rows: tuple[str, str, str]) -> None:
    """Delivery rows (target, state, created_at) as the application would have left them."""
    with sqlite3.connect(tmp_path / "cli.db") as db:
        db.executemany(
            "INSERT INTO webhook_deliveries (target, event_id, event, payload, state, attempts,"
            " give_up_at, created_at) VALUES (?, 'e', 'lead.created', '{}', ?, 3,"
            " '2099-01-01 00:00:00', ?)",
            rows,
        )


def test_webhooks_lists_each_target_and_sends_failed_events_again(tmp_path: Path) -> None:
    config = tmp_path / "leadbot.toml"
    config.write_text(CONFIG)
    empty = _leadbot(tmp_path, "webhooks", LEADBOT_CONFIG=str(config))  # migrates the file
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.splitlines() == [
        "webhook                   pending  failed  oldest pending",
        "bitrix24                        0       0  -",
        "crm                             0       0  -",
    ]
    _rows(
        tmp_path,
        ("crm", "failed", "2026-01-05 09:00:00"),
        ("crm", "failed", "2026-01-05 09:01:00"),
        ("crm", "sent", "2026-01-05 09:02:00"),
        ("old", "pending", "2000-01-01 00:00:00"),
    )
    listed = _leadbot(tmp_path, "webhooks", LEADBOT_CONFIG=str(config)).stdout.splitlines()
    assert listed[2] == "crm                             0       2  -"
    assert listed[3].startswith("old                             1       0  ")
    assert listed[3].endswith("(not configured: waits)")
    again = _leadbot(tmp_path, "webhooks", "--retry-failed", "crm", LEADBOT_CONFIG=str(config))
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert lines[0] == "2 failed event(s) pending again"
    assert lines[3].startswith("crm                             2       0  ")


def test_run_without_a_webhooks_secret_exits_2_naming_the_variable(tmp_path: Path) -> None:
    config = tmp_path / "leadbot.toml"
    config.write_text(CONFIG)
    result = _leadbot(tmp_path, "run", BOT_TOKEN=TOKEN, LEADBOT_CONFIG=str(config))
    assert result.returncode == 2
    assert result.stderr == (
        "leadbot: webhook 'crm': the environment variable WEBHOOK_CRM_SECRET (its signing "
        "secret) is not set\n"
    )
    no_bitrix = _leadbot(
        tmp_path,
        "run",
        BOT_TOKEN=TOKEN,
        LEADBOT_CONFIG=str(config),
        WEBHOOK_CRM_SECRET="s" * 32,
    )
    assert no_bitrix.returncode == 2
    assert "BITRIX24_WEBHOOK_URL" in no_bitrix.stderr and no_bitrix.stderr.count("\n") == 1
