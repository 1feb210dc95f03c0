"""The error answer of `pel serve`'s routes: an exception the app turns into JSON {detail, code, field}."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer: HTTP status, a code (a PEL diagnostic code where one applies) and the field at fault."""

    def __init__(self, status: int, code: str, detail: str, field: str | None = None,
                 headers: dict[str, str] | None = None, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.field, self.headers = status, code, detail, field, headers
        self.errors = errors
