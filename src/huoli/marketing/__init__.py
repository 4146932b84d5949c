"""Marketing calendar and activity results: every scheduled activity on one view, festival plans (docs/marketing.md)."""
