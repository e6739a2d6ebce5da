"""Kubernetes Status errors, shared by the apiserver (raises, renders) and clients (parse, raise typed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One field problem, rendered like apimachinery's field.Error."""

    field: str
    type: str  # FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, ...
    detail: str = ""
    value: Any = None

    _TITLES = {
        "FieldValueRequired": "Required value",
        "FieldValueInvalid": "Invalid value",
        "FieldValueNotSupported": "Unsupported value",
        "FieldValueDuplicate": "Duplicate value",
        "FieldValueForbidden": "Forbidden",
        "FieldValueTooLong": "Too long",
        "FieldValueNotFound": "Not found",
    }

    def message(self) -> str:
        title = self._TITLES.get(self.type, "Invalid value")
        if self.type in ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong"):
            return f"{title}: {self.detail}" if self.detail else title
        text = f"{title}: {go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.message()}"

    def cause(self) -> dict[str, str]:
        return {"reason": self.type, "message": self.message(), "field": self.field}


def go_value(value: Any) -> str:
    """Render a bad value the way apimachinery's %#v does, so messages read like Kubernetes'."""
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        inner = ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in value.items())
        return f"map[string]string{{{inner}}}"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(json.dumps(v) for v in value) + "}"
    return json.dumps(value)


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(field, "FieldValueRequired", detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(field, "FieldValueInvalid", detail, value)


def not_supported(field: str, value: Any, supported: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(json.dumps(s) for s in supported)
    return FieldError(field, "FieldValueNotSupported", detail, value)


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(field, "FieldValueDuplicate", "", value)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(field, "FieldValueForbidden", detail)


class StatusError(Exception):
    """An API failure carrying its Kubernetes Status; what the server sends and what clients raise."""

    code = 500
    reason = "InternalError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None,
                 code: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body

    @property
    def causes(self) -> list[dict[str, str]]:
        return list(self.details.get("causes", []))


class BadRequestError(StatusError):
    code, reason = 400, "BadRequest"


class UnauthorizedError(StatusError):
    code, reason = 401, "Unauthorized"


class ForbiddenError(StatusError):
    code, reason = 403, "Forbidden"


class NotFoundError(StatusError):
    code, reason = 404, "NotFound"


class MethodNotAllowedError(StatusError):
    code, reason = 405, "MethodNotAllowed"


class AlreadyExistsError(StatusError):
    code, reason = 409, "AlreadyExists"


class ConflictError(StatusError):
    code, reason = 409, "Conflict"


class GoneError(StatusError):
    code, reason = 410, "Expired"


class RequestEntityTooLargeError(StatusError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaTypeError(StatusError):
    code, reason = 415, "UnsupportedMediaType"


class InvalidError(StatusError):
    code, reason = 422, "Invalid"


class InternalError(StatusError):
    code, reason = 500, "InternalError"


class ServiceUnavailableError(StatusError):
    code, reason = 503, "ServiceUnavailable"


class TimeoutError_(StatusError):
    code, reason = 504, "Timeout"


def _ref(resource: str, name: str) -> str:
    return f'{resource} "{name}"' if name else resource


def not_found(resource: str, name: str, group: str = "") -> NotFoundError:
    qualified = f"{resource}.{group}" if group else resource
    return NotFoundError(f"{_ref(qualified, name)} not found",
                         details={"name": name, "group": group, "kind": resource} if group
                         else {"name": name, "kind": resource})


def already_exists(resource: str, name: str, group: str = "") -> AlreadyExistsError:
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "kind": resource, **({"group": group} if group else {})}
    return AlreadyExistsError(f"{_ref(qualified, name)} already exists", details=details)


def conflict(resource: str, name: str, group: str = "") -> ConflictError:
    qualified = f"{resource}.{group}" if group else resource
    return ConflictError(
        f"Operation cannot be fulfilled on {_ref(qualified, name)}: the object has been modified; "
        "please apply your changes to the latest version and try again",
        details={"name": name, "kind": resource, **({"group": group} if group else {})},
    )


def invalid_object(kind: str, name: str, errors: list[FieldError], group: str = "") -> InvalidError:
    """apimachinery's NewInvalid: `Pod "x" is invalid: a: ..., b: ...`."""
    qualified = f"{kind}.{group}" if group else kind
    summary = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    details: dict[str, Any] = {"name": name, "kind": kind,
                               "causes": [e.cause() for e in errors]}
    if group:
        details["group"] = group
    return InvalidError(f'{qualified} "{name}" is invalid: {summary}', details=details)


_BY_REASON: dict[str, type[StatusError]] = {
    cls.reason: cls
    for cls in (BadRequestError, UnauthorizedError, ForbiddenError, NotFoundError,
                MethodNotAllowedError, AlreadyExistsError, ConflictError, GoneError,
                RequestEntityTooLargeError, UnsupportedMediaTypeError, InvalidError,
                InternalError, ServiceUnavailableError, TimeoutError_)
}
_BY_REASON["Gone"] = GoneError
_BY_CODE: dict[int, type[StatusError]] = {
    400: BadRequestError, 401: UnauthorizedError, 403: ForbiddenError, 404: NotFoundError,
    405: MethodNotAllowedError, 409: ConflictError, 410: GoneError,
    413: RequestEntityTooLargeError, 415: UnsupportedMediaTypeError, 422: InvalidError,
    500: InternalError, 503: ServiceUnavailableError, 504: TimeoutError_,
}


def from_status(body: Any, http_code: int) -> StatusError:
    """Typed error from a Status body (or from the bare HTTP code when the body is not a Status)."""
    if isinstance(body, dict) and body.get("kind") == "Status":
        reason = str(body.get("reason") or "")
        code = int(body.get("code") or http_code)
        cls = _BY_REASON.get(reason) or _BY_CODE.get(code, StatusError)
        return cls(str(body.get("message") or reason), details=body.get("details") or {},
                   code=code, reason=reason or cls.reason)
    cls = _BY_CODE.get(http_code, StatusError)
    text = body if isinstance(body, str) and body else f"the server responded with HTTP {http_code}"
    return cls(text, code=http_code)
