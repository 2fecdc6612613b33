"""The core functions on a real database: SQLite, and PostgreSQL when TEST_DATABASE_URL is set."""
