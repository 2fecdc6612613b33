"""SMTP_* as the mail sender reads them: off unless SMTP_HOST and SMTP_FROM are both set; the
port follows SMTP_TLS unless given; the password stays a secret until the sender uses it."""

from __future__ import annotations

from typing import Any

from bot.adapters.mail.smtp import SmtpServer
from bot.config import Settings


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_e_mail_replies_are_off_without_a_host_or_a_sender() -> None:
    assert SmtpServer.of(_settings()) is None
    assert SmtpServer.of(_settings(smtp_host="mail.example.com")) is None
    assert SmtpServer.of(_settings(smtp_from="sales@example.com")) is None


def test_the_port_follows_the_tls_mode_unless_given() -> None:
    base = {"smtp_host": "mail.example.com", "smtp_from": "Sales <sales@example.com>"}
    ports = {
        tls: SmtpServer.of(_settings(**base, smtp_tls=tls)) for tls in ("ssl", "starttls", "none")
    }
    assert {tls: server.port for tls, server in ports.items() if server} == {
        "ssl": 465,
        "starttls": 587,
        "none": 25,
    }
    given = SmtpServer.of(_settings(**base, smtp_port=2525, smtp_tls="none"))
    assert given is not None and given.port == 2525 and given.tls == "none"
    default = SmtpServer.of(_settings(**base))
    assert default is not None and default.tls == "starttls" and default.user is None


def test_the_login_is_passed_as_set() -> None:
    server = SmtpServer.of(
        _settings(
            smtp_host="mail.example.com",
            smtp_from="sales@example.com",
            smtp_user="sales",
            smtp_password="s3cret",
        )
    )
    assert server is not None and (server.user, server.password) == ("sales", "s3cret")
    assert "s3cret" not in repr(server)
