"""The team: staff and their roles, invites, duty, the overview of who works what, each role's
command menu."""
