"""Backups of the embedded stores (SQLite, DuckDB, the ingestion journal, the secret key) and their restore."""
