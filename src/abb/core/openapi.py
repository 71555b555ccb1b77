"""Declare the problem+json answers of each endpoint so the OpenAPI document stays accurate."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from abb.core.errors import PROBLEM_MEDIA_TYPE

_DESCRIPTIONS = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "Missing, expired or invalid credentials",
    403: "Signed in but not allowed",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid fields (named in `errors`)",
    429: "Too many requests",
    503: "A dependency is unavailable",
}


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def links_to(parameter: str, *operations: tuple[str, str], status: int = 201) -> dict[int | str, dict[str, Any]]:
    """OpenAPI links from a created resource's `id` to the operations on it ((method, path) pairs), for clients
    and for stateful API fuzzing (create -> read -> update), e.g. `links_to("course_id", ("get", "/api/v1/…"))`."""
    links = {
        f"{method.upper()}{path}".replace("/", "_").replace("{", "").replace("}", ""): {
            "operationRef": "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method,
            "parameters": {parameter: "$response.body#/id"},
        }
        for method, path in operations
    }
    return {status: {"description": "Created", "links": links}}
