"""huoli 活力: an open-source growth engine for WeChat mini-programs."""

__version__ = "0.1.0"
