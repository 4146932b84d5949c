"""Privacy requests (PIPL): per-user export and erasure across every store, with a record of each."""
