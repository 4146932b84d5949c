"""One error shape for the whole API: `{code, message, details}`; services raise, routes never format."""

from __future__ import annotations

from typing import Any


class HuoliError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationFailed(HuoliError):
    status_code = 422
    code = "validation_failed"


class Unauthorized(HuoliError):
    status_code = 401
    code = "unauthorized"


class Forbidden(HuoliError):
    status_code = 403
    code = "forbidden"


class NotFound(HuoliError):
    status_code = 404
    code = "not_found"


class Conflict(HuoliError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(HuoliError):
    status_code = 413
    code = "payload_too_large"


class UpstreamUnavailable(HuoliError):
    status_code = 503
    code = "upstream_unavailable"
