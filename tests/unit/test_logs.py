"""LOG_FORMAT=json: one JSON object a line, whatever a record carries (several lines of text, an
exception, extra fields), and no secret in any of it, wherever it was: the message, its
arguments, an extra field (nested too), the exception's text. The text format redacts the same."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.common.logs import setup_logging
from bot.config import Settings

BOT_TOKEN = "123456789:AAHsecret-token-for-the-log-test_0123"
DB_PASSWORD = 'p@ss:w/rd"\\'  # characters JSON escapes must not hide it
SECRETS = [BOT_TOKEN, "intake-secret", DB_PASSWORD]


@pytest.fixture(autouse=True)
def root_logger_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _log_everything() -> None:
    log = logging.getLogger("leadbot.test")
    log.info("lead created lead=%s source=%s", 7, "tilda")
    log.warning("calling https://api.telegram.org/bot%s/getMe", BOT_TOKEN)
    log.info("two\nlines <b>html</b> 🙂", extra={"lead_id": 7, "token": "intake-secret"})
    log.info("nested", extra={"request": {"headers": {"Authorization": "Bearer intake-secret"}}})
    try:
        raise RuntimeError(f"connect failed: postgresql://leadbot:{DB_PASSWORD}@db/leadbot")
    except RuntimeError:
        log.exception("database down")


def test_json_lines_parse_and_hold_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", SECRETS, "json")
    _log_everything()
    output = capsys.readouterr().err
    lines = output.splitlines()
    assert len(lines) == 5  # one a record: the two-line message and the traceback included
    records = [json.loads(line) for line in lines]
    for secret in SECRETS:
        assert secret not in output
        assert json.dumps(secret)[1:-1] not in output  # nor in JSON's escaped form
    first = records[0]
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["time"].endswith("Z") and first["time"][10] == "T"
    assert (first["level"], first["logger"], first["message"]) == (
        "INFO",
        "leadbot.test",
        "lead created lead=7 source=tilda",
    )
    assert records[1]["message"] == "calling https://api.telegram.org/bot***/getMe"
    assert records[2]["message"] == "two\nlines <b>html</b> 🙂"
    assert (records[2]["lead_id"], records[2]["token"]) == (7, "***")
    assert records[3]["request"] == {"headers": {"Authorization": "Bearer ***"}}
    assert records[4]["level"] == "ERROR"
    assert "RuntimeError: connect failed: postgresql://leadbot:***@db/leadbot" in records[4]["exc"]


def test_text_lines_hold_no_secret_either(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", SECRETS, "text")
    _log_everything()
    output = capsys.readouterr().err
    assert "INFO leadbot.test: lead created lead=7 source=tilda" in output
    for secret in SECRETS:
        assert secret not in output


def test_every_secret_setting_is_redacted() -> None:
    """What the command line hands the logs: every token and key, and the passwords of the
    database's and Redis's URLs (as written, and decoded)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=BOT_TOKEN,
        intake_token="intake-secret",
        api_token="api-secret",
        metrics_token="metrics-secret",
        vk_secret="vk-secret",
        database_url="postgresql+asyncpg://leadbot:p%40ss@db/leadbot",
        redis_url="redis://:redis-pass@localhost:6379/0",
        log_format="JSON",
    )
    assert set(settings.secret_values()) == {
        BOT_TOKEN,
        "intake-secret",
        "api-secret",
        "metrics-secret",
        "vk-secret",
        "p%40ss",
        "p@ss",
        "redis-pass",
    }
    assert settings.log_format == "json"


def test_metrics_token_is_never_the_intake_token() -> None:
    with pytest.raises(ValueError, match="METRICS_TOKEN must differ from INTAKE_TOKEN"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            intake_token="same-secret",
            metrics_token="same-secret",
        )
