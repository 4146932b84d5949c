"""Promotions' HTTP routes, one module per kind of caller; `promotions.routes` mounts the three."""
