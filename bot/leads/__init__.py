"""The lead and what staff do to it: every action (take, close, reopen, call-backs, qualify,
notes, reassign, merge, escalation answers), the card (what a reader sees and which buttons),
lists and what is overdue."""
