"""PEL: a typed language for business and economic models — the library API (`pel.compile`, `pel.load`)."""

__version__ = "0.1.0"
