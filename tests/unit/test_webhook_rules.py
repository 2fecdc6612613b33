"""The numbers outbound delivery promises: the signature (checked against openssl), the retry
schedule, and the config's refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.common.deliveries import retry_delay
from bot.common.webhooks import signature
from bot.config import ConfigError, WebhookDelivery, load_app_config, outbound_secrets

BODY = b'{"id":"e1","event":"lead.created"}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # printf '%s' '1700000000.{"id":"e1","event":"lead.created"}' |
    #   openssl dgst -sha256 -hmac 'whsec-test-0123456789abcdef'
    expected = "4ab4d3574dd5f68c288db0967dd7e2db4d3ba4fb4f5f71ff424edca3cb59bd7c"
    assert signature("whsec-test-0123456789abcdef", 1700000000, BODY) == f"sha256={expected}"
    assert signature("whsec-test-0123456789abcdef", 1700000001, BODY) != f"sha256={expected}"


def test_retries_start_within_five_seconds_and_grow_to_ten_minutes() -> None:
    rules = WebhookDelivery()
    waits = [retry_delay(n, rules).total_seconds() for n in range(1, 18)]
    # 2 s, then half as long again each time: 3, 4.5, 6.75 ...; 2 x 1.5^14 = 583.9 s is the
    # last below the cap, then 600 s
    assert waits[:4] == [2.0, 3.0, 4.5, 6.75]
    assert waits[14] == pytest.approx(583.9, abs=0.05)
    assert waits[15:] == [600.0, 600.0]
    # a receiver failing six times in a row still gets the event on the 7th try, 41.6 s on
    assert sum(waits[:6]) == pytest.approx(41.56, abs=0.01)


def test_a_secret_in_the_file_or_a_missing_one_stops_the_start() -> None:
    hook = {"name": "crm", "url": "https://crm.example/hook", "events": ["lead.created"]}
    with pytest.raises(ConfigError, match="comes from the environment"):
        load_app_config(overrides={"webhooks": [{**hook, "secret": "s3cret"}]})
    config = load_app_config(overrides={"webhooks": [{**hook, "secret_env": "CRM_SECRET"}]})
    with pytest.raises(ConfigError, match="CRM_SECRET"):
        outbound_secrets(config, {}, env_file="/nonexistent")
    with pytest.raises(ConfigError, match="too short"):
        outbound_secrets(config, {"CRM_SECRET": "short"}, env_file="/nonexistent")
    found = outbound_secrets(config, {"CRM_SECRET": "x" * 32}, env_file="/nonexistent")
    assert found.values() == ["x" * 32]


def test_the_bitrix24_address_comes_from_the_environment_and_is_checked() -> None:
    with pytest.raises(ConfigError, match="holds its key"):
        load_app_config(overrides={"crm": {"bitrix24": {"webhook_url": "https://x/rest/1/k/"}}})
    config = load_app_config(overrides={"crm": {"bitrix24": {}}})
    with pytest.raises(ConfigError, match="BITRIX24_WEBHOOK_URL"):
        outbound_secrets(config, {}, env_file="/nonexistent")
    with pytest.raises(ConfigError, match="must look like"):
        outbound_secrets(
            config, {"BITRIX24_WEBHOOK_URL": "https://x.bitrix24.ru/"}, env_file="/nonexistent"
        )
    for url in ("https://x.bitrix24.ru/rest/1/abc123", "http://crm.local/rest/7/k3y/"):
        found = outbound_secrets(config, {"BITRIX24_WEBHOOK_URL": url}, env_file="/nonexistent")
        assert found.bitrix24_url is not None
        assert found.bitrix24_url.get_secret_value() == url.rstrip("/") + "/"


def _hook(**fields: object) -> dict[str, object]:
    hook = {"name": "a", "url": "https://a/", "events": ["*"], "secret_env": "S"} | fields
    return {"webhooks": [hook]}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (_hook(name="bitrix24"), "hand-off"),
        (_hook(events=["lead.won"]), "unknown event"),
        (_hook(url="mailto:a@b"), "http"),
        ({"webhook_delivery": {"first_retry": "20m"}}, "first_retry"),
        ({"webhook_delivery": {"timeout": "30s"}}, "claim_lease"),
        ({"crm": {"bitrix24": {"currency_id": "руб"}}}, "currency_id"),
    ],
)
def test_config_mistakes_are_named(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_app_config(overrides=section)


def test_two_webhooks_may_not_share_a_name() -> None:
    hook = {"name": "crm", "url": "https://a/", "events": ["*"], "secret_env": "S"}
    with pytest.raises(ConfigError, match="same name"):
        load_app_config(overrides={"webhooks": [hook, hook]})
    assert timedelta(hours=24) == load_app_config().webhook_delivery.give_up_after
