"""Pure tests: no database, no application, no server; the fast inner loop."""
