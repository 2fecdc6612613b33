"""The bot's command menu: which commands each audience sees (descriptions live in
templates/<locale>/labels.toml, [commands])."""

from __future__ import annotations

from storage.models import Role

CLIENT_COMMANDS = ("start", "stop")  # /stop: no more follow-up messages
STAFF_COMMANDS: dict[Role, tuple[str, ...]] = {
    Role.MANAGER: ("leads", "find", "report", "channel", "duty", "cancel"),
    Role.SUPERVISOR: (
        "leads",
        "find",
        "overdue",
        "team",
        "digest",
        "report",
        "spend",
        "merge",
        "import",
        "channel",
        "duty",
        "cancel",
    ),
    Role.ADMIN: (
        "leads",
        "find",
        "overdue",
        "team",
        "digest",
        "report",
        "spend",
        "merge",
        "import",
        "invite",
        "staff",
        "channel",
        "duty",
        "cancel",
    ),
}


def commands_for(role: Role | None) -> tuple[str, ...]:
    """None: someone who is not staff (a client)."""
    return STAFF_COMMANDS[role] if role is not None else CLIENT_COMMANDS
