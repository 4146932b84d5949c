"""Loyalty engine: points ledger, check-in, tasks, badges, leaderboards, tiers, points mall."""
