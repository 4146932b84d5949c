"""Product catalog: items, SKUs, categories synced from the merchant backend (docs/catalog.md)."""
