"""The operations console: static shell, page discovery, vendor files (docs/console.md)."""
