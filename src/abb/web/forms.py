"""Turning HTML form posts into the API's pydantic schemas, and their errors into per-field messages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from abb.core.errors import AppError
from abb.core.i18n import AmountFormatError, parse_localized_decimal
from abb.web.messages import field_errors

LIST_FIELDS = {"sectors", "languages", "target_countries"}


def form_to_dict(form: FormData, schema: type[BaseModel], *, partial: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in schema.model_fields:
        if name in LIST_FIELDS:
            values = [str(v) for v in form.getlist(name)]
            if values or not partial:
                data[name] = values
        elif name in form:
            value = str(form[name]).strip()
            if value or not partial:
                data[name] = value if value or name != "website" else None
    return data


def validate_form(schema: type[BaseModel], data: dict[str, Any]) -> tuple[BaseModel | None, dict[str, str]]:
    try:
        return schema.model_validate(data), {}
    except ValidationError as exc:
        return None, field_errors([dict(error) for error in exc.errors()])


class NotConfirmed(AppError):
    status, slug, title = 422, "not-confirmed", "Tick the box to confirm."


def require_confirmation(form: FormData) -> None:
    """Destructive and money-moving forms carry a checked `confirm` box (the browser asks for it too)."""
    if form.get("confirm") != "yes":
        raise NotConfirmed("Tick the box to confirm.")


def machine_amount(text: str) -> str:
    """An amount as the person typed it in their language ('1.250,50') in the API's form ('1250.50');
    unreadable text is passed on unchanged, for the schema to refuse with its message."""
    try:
        return str(parse_localized_decimal(text))
    except AmountFormatError:
        return text
