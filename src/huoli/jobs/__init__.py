"""Jobs: periodic and one-off work declared per domain in `<domain>/jobs.py`, run on Huey.

See docs/architecture.md#jobs.
"""
