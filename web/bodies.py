"""Request bodies, parsed by their pydantic models into the one error contract."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from harness.errors import BadRequest, InvalidInput

M = TypeVar("M", bound=BaseModel)


def raw_json_object() -> dict[str, Any]:
    """A JSON object, or a form whose `payload` field is one.

    The form is what navigator.sendBeacon sends when the page unloads: it cannot set
    the X-CSRFToken header, so the token travels in the form's csrf_token field.
    """
    try:  # RecursionError: a body nested thousands deep
        if request.is_json:
            data = request.get_json(silent=True)
        else:
            data = json.loads(request.form.get("payload", ""))
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise BadRequest("bad_request", "expected a JSON object")
    return data


def parse(model: type[M], data: dict[str, Any] | None = None) -> M:
    """The body as `model`; the first problem is the error, naming its field."""
    try:
        return model.model_validate(raw_json_object() if data is None else data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(part) for part in err.get("loc", ()))
        raise InvalidInput("invalid", str(err.get("msg", "invalid")), field=loc or None) from None
