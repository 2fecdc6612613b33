"""The events leadbot announces to other systems (outbound webhooks, the CRM hand-off).

Their names are part of the outside interface: receivers subscribe to them in the config
(`[[webhooks]] events`) and switch on them, so a name never changes once released. What each
carries is in bot/common/webhooks.py and the README ("Webhooks").
"""

from __future__ import annotations

import enum


class HookEvent(enum.StrEnum):
    LEAD_CREATED = "lead.created"  # a new lead came in (a form, a call, a client's message)
    LEAD_TAKEN = "lead.taken"  # a manager took a new lead
    LEAD_STATUS_CHANGED = "lead.status_changed"  # any change of status, with from and to
    LEAD_REASSIGNED = "lead.reassigned"  # another owner (or none: back to the pool)
    LEAD_CALL_BACK_SCHEDULED = "lead.call_back_scheduled"  # a call-back was set (or moved)
    LEAD_QUALIFIED = "lead.qualified"  # deal fields were filled in
    LEAD_CONVERTED = "lead.converted"  # a deal: the lead closed as won
    LEAD_CLOSED = "lead.closed"  # closed without a deal: refused or junk (also stale, merged)
    LEAD_REOPENED = "lead.reopened"  # a supervisor brought a closed lead back
    MESSAGE_RECEIVED = "message.received"  # the client wrote again about an open lead
    CALL_MISSED = "call.missed"  # an incoming call nobody answered


ALL_EVENTS = "*"  # `events = ["*"]`: every event, including ones added later
