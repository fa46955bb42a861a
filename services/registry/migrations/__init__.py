"""Alembic migrations of the registry's tables (run by the service at start)."""
