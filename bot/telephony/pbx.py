"""Office PBX webhooks mapped onto call events (bot/telephony/calls.py): Zadarma and Mango Office.
Pure functions: signatures, and payload -> CallEvent (None: an event to acknowledge only).

Zadarma, followed: the PBX notifications of zadarma/user-api-v1 (examples/callinfo_callback.php
and lib/Webhook/Notify*.php): `zd_echo` is echoed back to verify the URL; the `Signature`
header is base64 of PHP's hash_hmac('sha1', ..., secret), which is the HEX digest (so base64
of the hex text, not of the raw bytes); the signed string is caller_id . called_did .
call_start for NOTIFY_START / NOTIFY_END / NOTIFY_INTERNAL / NOTIFY_ANSWER and internal .
destination . call_start for NOTIFY_OUT_START / NOTIFY_OUT_END, pbx_call_id . call_id_with_rec for
NOTIFY_RECORD (lib/Webhook/NotifyRecord.php); `disposition` is one of
answered, busy, cancel, no answer, failed, no money, unallocated number, no limit, ...

Mango Office, followed: the VPBX API ("API Виртуальной АТС": requests from the PBX to the
client's URL `<base>/events/call`, `<base>/events/summary`; every request is a form with
vpbx_api_key, sign and json, sign = sha256 hex of vpbx_api_key + json + vpbx_api_salt). The
summary carries entry_id, call_direction (0 internal, 1 incoming, 2 outgoing), from/to
{extension, number}, create_time, forward_time, talk_time, end_time (unix seconds; talk_time
0 when nobody answered) and entry_result (1 answered, 0 missed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from bot.intake.input import PayloadError, read_json
from bot.telephony.calls import CallError, CallEvent, CallStatus, Direction, parse_call_event

ZADARMA_OUTGOING = frozenset({"NOTIFY_OUT_START", "NOTIFY_OUT_END"})
ZADARMA_ENDS = frozenset({"NOTIFY_END", "NOTIFY_OUT_END"})
ZADARMA_RECORD = "NOTIFY_RECORD"  # a call's recording is ready (bot/telephony/recordings.py)
_ZADARMA_STATUS = {
    "answered": CallStatus.ANSWERED,
    "busy": CallStatus.BUSY,
    "no answer": CallStatus.NO_ANSWER,
    "cancel": CallStatus.MISSED,  # the caller gave up before anyone picked up
}


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def zadarma_signature(fields: Mapping[str, str], secret: str) -> str:
    """What Zadarma puts in the `Signature` header for these notification fields."""
    if fields.get("event") == ZADARMA_RECORD:  # lib/Webhook/NotifyRecord.php
        return _zadarma_hmac(
            fields.get("pbx_call_id", "") + fields.get("call_id_with_rec", ""), secret
        )
    if fields.get("event") in ZADARMA_OUTGOING:
        signed = fields.get("internal", "") + fields.get("destination", "")
    else:
        signed = fields.get("caller_id", "") + fields.get("called_did", "")
    signed += fields.get("call_start", "")
    return _zadarma_hmac(signed, secret)


def _zadarma_hmac(signed: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def zadarma_signature_ok(fields: Mapping[str, str], given: str | None, secret: str) -> bool:
    return bool(given) and _same(given or "", zadarma_signature(fields, secret))


def _zadarma_time(value: str, zone: tzinfo) -> str:
    """call_start is "2026-01-05 12:00:00" in the account's zone (set to the team's)."""
    try:
        local = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise CallError("call_start", "call_start must be YYYY-MM-DD HH:MM:SS") from None
    return local.replace(tzinfo=zone).isoformat()


def zadarma_event(fields: Mapping[str, str], region: str, zone: tzinfo) -> CallEvent | None:
    """A finished call (NOTIFY_END, NOTIFY_OUT_END) as a call event; None for the others
    (a call starting, ringing, an IVR step): acknowledged, the END carries the outcome."""
    event = fields.get("event", "")
    if event not in ZADARMA_ENDS:
        return None
    outgoing = event == "NOTIFY_OUT_END"
    disposition = fields.get("disposition", "").strip().lower()
    if not disposition:
        raise CallError("disposition", "disposition is required")
    status = _ZADARMA_STATUS.get(disposition, CallStatus.FAILED)
    if outgoing and status is CallStatus.MISSED:
        status = CallStatus.NO_ANSWER  # we hung up before the client answered
    data = {
        "call_id": fields.get("pbx_call_id"),
        "direction": Direction.OUT if outgoing else Direction.IN,
        "status": status,
        "from": fields.get("internal" if outgoing else "caller_id") or None,
        "to": fields.get("destination" if outgoing else "called_did") or None,
        "started_at": _zadarma_time(fields.get("call_start", ""), zone),
        "duration": fields.get("duration") or 0,
        "staff": fields.get("internal") or None,
    }
    return parse_call_event(data, region, "zadarma", dict(fields))


def mango_sign(api_key: str, payload: str, salt: str) -> str:
    return hashlib.sha256((api_key + payload + salt).encode()).hexdigest()


def mango_sign_ok(form: Mapping[str, str], api_key: str, salt: str) -> bool:
    """The form came from our PBX: its key is ours and its sign matches the json."""
    given_key, sign = form.get("vpbx_api_key", ""), form.get("sign", "")
    if not given_key or not sign or not _same(given_key, api_key):
        return False
    return _same(sign.lower(), mango_sign(api_key, form.get("json", ""), salt))


def mango_json(form: Mapping[str, str]) -> dict[str, Any]:
    try:
        data = read_json(form.get("json", ""))  # nested too deep or malformed: not valid
    except PayloadError as exc:
        raise CallError("json", f"json is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CallError("json", "json must be an object")
    return data


def _party(data: Mapping[str, Any], side: str) -> Mapping[str, Any]:
    party = data.get(side)
    return party if isinstance(party, Mapping) else {}


def _unix(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise CallError(name, f"{name} must be unix seconds")
    return int(value)


def mango_summary_event(data: Mapping[str, Any], region: str) -> CallEvent | None:
    """A call summary (events/summary) as a call event; None for internal calls."""
    direction = data.get("call_direction")
    if direction not in (1, 2, "1", "2"):
        if direction in (0, "0"):
            return None  # staff calling staff: nothing for a lead
        raise CallError("call_direction", "call_direction must be 0, 1 or 2")
    outgoing = str(direction) == "2"
    answered = str(data.get("entry_result")) == "1"
    if answered:
        status = CallStatus.ANSWERED
    else:
        status = CallStatus.NO_ANSWER if outgoing else CallStatus.MISSED
    created, ended = _unix(data, "create_time"), _unix(data, "end_time")
    talk = _unix(data, "talk_time") if data.get("talk_time") not in (None, "", 0, "0") else 0
    ours, theirs = (_party(data, "from"), _party(data, "to"))
    client = ours if not outgoing else theirs  # incoming: the client is `from`
    staff = theirs if not outgoing else ours
    event = {
        "call_id": data.get("entry_id"),
        "direction": Direction.OUT if outgoing else Direction.IN,
        "status": status,
        "from": (ours.get("number") or ours.get("extension")) if outgoing else client.get("number"),
        "to": client.get("number") if outgoing else (theirs.get("number") or None),
        "started_at": datetime.fromtimestamp(created, UTC).isoformat(),
        "duration": max(0, ended - talk) if talk else 0,
        "staff": staff.get("extension") or None,
    }
    return parse_call_event(event, region, "mango", dict(data))
