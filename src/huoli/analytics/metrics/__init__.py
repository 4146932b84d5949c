"""One module per metric: its request model, its computation and `@metric(...)` registration (registry.py
imports every module here). Adding a metric is adding a module."""
