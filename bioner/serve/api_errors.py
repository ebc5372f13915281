"""Errors as HTTP responses: ``{"error": {"code": "E8xx", "message": ..., "field": ...}}``.

The code is one of ``bioner.errors.CODES`` (E800-E819 for the service), so a client
can branch on it and a user can search for it; ``field`` names the request field at
fault (``texts[3]``, ``documents[1].text``, ``labels``) or is null.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

from bioner.errors import CODES


class ApiError(Exception):
    """A request the service refuses, with its HTTP status, stable code and the field at fault."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        if code not in CODES:
            raise ValueError(f"unregistered error code {code!r}")
        super().__init__(f"[{code}] {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)
