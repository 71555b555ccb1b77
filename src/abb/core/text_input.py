"""Control characters are refused at the edge, once, for every text input: path, query, JSON and form bodies.

PostgreSQL cannot store NUL in text (psycopg raises, the request would end in a 500), and no name,
description or search term needs a control character. Tab, line feed and carriage return stay allowed
(text areas send them). A refusal is a 422 naming the field, as a validation error would be; multipart
bodies are left to the upload rules (file contents are binary; the file name is checked there).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from abb.core.errors import error_response

# C0 controls but tab, line feed and carriage return; DEL; the C1 block.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Cheap first look at a JSON body: a raw control byte, a UTF-8 encoded C1 character, or any escape.
_JSON_SUSPECT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\\")
_BODY_METHODS = {"POST", "PUT", "PATCH"}
MESSAGE = "Control characters (such as NUL) are not allowed in text."


def _control_in_pairs(pairs: list[tuple[str, str]], where: str) -> str | None:
    """The first name whose value holds a control character (`where` itself when the name does)."""
    for name, value in pairs:
        if CONTROL_CHARACTERS.search(name):
            return where
        if CONTROL_CHARACTERS.search(value):
            return name
    return None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every (field path, string) in a parsed JSON document, keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield path, str(key)  # a bad key is reported on its parent
            yield from _strings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def control_in_json(body: bytes) -> str | None:
    """The first field of a JSON body holding a control character (`body` for the document itself)."""
    if not _JSON_SUSPECT.search(body):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None  # malformed JSON: the app answers 400 for it
    for path, text in _strings(document, ""):
        if CONTROL_CHARACTERS.search(text):
            return path or "body"
    return None


def _media_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


class ControlCharacterMiddleware:
    """Answers 422 (problem+json, or an HTML page for a browser) when any text input holds a control character."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if CONTROL_CHARACTERS.search(scope["path"]):
            await self._refuse(scope, receive, send, "path")
            return
        query = scope.get("query_string", b"")
        if query:
            field = _control_in_pairs(parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True), "query")
            if field is not None:
                await self._refuse(scope, receive, send, field)
                return
        media = _media_type(scope) if scope["method"] in _BODY_METHODS else ""
        is_json = media == "application/json" or media.endswith("+json")
        if not is_json and media != "application/x-www-form-urlencoded":
            await self.app(scope, receive, send)
            return
        # The body is already bounded by BodySizeLimitMiddleware (outside this one); the app reads it whole anyway.
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if is_json:
            field = control_in_json(body)
        else:
            field = _control_in_pairs(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True), "body")
        if field is not None:
            await self._refuse(scope, receive, send, field)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, name: str) -> None:
        request = Request(scope, receive)
        response = error_response(
            request,
            422,
            "validation-error",
            "The request is not valid",
            f"Invalid field(s): {name}",
            errors=[{"field": name, "message": MESSAGE, "code": "control_character"}],
        )
        await response(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
