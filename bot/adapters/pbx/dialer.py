"""The card's 📞 Call through the configured PBX: the core's `Dialer` for Zadarma and Mango.

Which PBX rings is `[telephony] click_to_call`: `zadarma` or `mango` names one; `auto` takes
the one whose keys are set, Zadarma when both are (a team with two PBXs names the one its
managers' extensions belong to); `off` shows no button. A PBX without its keys is None: the
press then says the PBX is not configured.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from pydantic import SecretStr

from bot.adapters.pbx.mango import CALLBACK as MANGO_CALLBACK
from bot.adapters.pbx.mango import mango_request
from bot.adapters.pbx.zadarma import CALLBACK as ZADARMA_CALLBACK
from bot.adapters.pbx.zadarma import zadarma_request
from bot.config import AppConfig, Settings
from bot.telephony.click_to_call import Dialer, Dialled

log = logging.getLogger("leadbot.pbx")


def digits(phone: str) -> str:
    """Both APIs take the number as digits only (+7 900 123-45-67 -> 79001234567)."""
    return "".join(char for char in phone if char.isdigit())


@dataclass(frozen=True)
class ZadarmaDialer:
    base: str
    key: str
    secret: str
    timeout: float
    provider: str = "zadarma"

    async def dial(self, extension: str, phone: str) -> Dialled:
        answer = await zadarma_request(
            self.base,
            self.key,
            self.secret,
            ZADARMA_CALLBACK,
            {"from": extension, "to": digits(phone)},
            within=self.timeout,
        )
        return Dialled(answer.ok, not answer.reachable, answer.error)


@dataclass(frozen=True)
class MangoDialer:
    base: str
    key: str
    salt: str
    timeout: float
    provider: str = "mango"

    async def dial(self, extension: str, phone: str) -> Dialled:
        payload = {
            "command_id": f"leadbot-{secrets.token_hex(8)}",
            "from": {"extension": extension},
            "to_number": digits(phone),
        }
        answer = await mango_request(
            self.base, self.key, self.salt, MANGO_CALLBACK, payload, within=self.timeout
        )
        return Dialled(answer.ok, not answer.reachable, answer.error)


def _secret(value: SecretStr | None) -> str | None:
    text = value.get_secret_value().strip() if value is not None else ""
    return text or None


def pbx_dialer(settings: Settings, config: AppConfig) -> Dialer | None:
    """The PBX the card's 📞 Call asks, or None (off, or its keys are not set)."""
    choice = config.telephony.click_to_call
    if choice == "off":
        return None
    timeout = config.telephony.request_timeout.total_seconds()
    zadarma: Dialer | None = None
    mango: Dialer | None = None
    key, secret = _secret(settings.zadarma_api_key), _secret(settings.zadarma_api_secret)
    if key and secret:
        zadarma = ZadarmaDialer(settings.zadarma_api_base, key, secret, timeout)
    key, salt = _secret(settings.mango_api_key), _secret(settings.mango_api_salt)
    if key and salt:
        mango = MangoDialer(settings.mango_api_base, key, salt, timeout)
    dialer = {"zadarma": zadarma, "mango": mango}.get(choice, zadarma or mango)
    if dialer is None:
        log.warning(
            "[telephony] click_to_call = %s, but the PBX's keys are not set "
            "(ZADARMA_API_KEY + ZADARMA_API_SECRET, or MANGO_API_KEY + MANGO_API_SALT): "
            "📞 Call will say the PBX is not configured",
            choice,
        )
    else:
        log.info("click-to-call through %s", dialer.provider)
    return dialer
