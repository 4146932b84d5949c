"""Orders: one signed call per business fact (paid, refunded, cancelled) settling every domain in one transaction."""
