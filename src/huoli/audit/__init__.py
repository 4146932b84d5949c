"""Audit trail: every operator action, with its actor, time, request and the rows it changed (before/after)."""
