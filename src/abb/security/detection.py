"""Injection and probing detection: SQL injection and XSS by libinjection (its C tokenizer and fingerprints),
plus a few rules derived from the OWASP Core Rule Set for what it misses (REQUEST-942 SQLi: UNION SELECT, time
functions, stacked statements, catalog tables; REQUEST-941 XSS: event handlers, javascript: URLs; REQUEST-930
path traversal and well-known system files).

Values are inspected as sent and once URL-decoded; text with none of the characters an attack needs is passed
over at the cost of one set test, which keeps ordinary traffic cheap (benchmarks/overhead.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import libinjection

SQLI, XSS, TRAVERSAL = "sqli", "xss", "traversal"
# What SQL injection or XSS needs at least one of; '/' and '-' alone (paths, "drop-off") are not enough.
_SUSPICIOUS = frozenset("'\"<>;()`=#|&*\\")
# What one without any of those characters still needs (e.g. "1 union select password from users").
_KEYWORDS = re.compile(r"union|sleep|benchmark|waitfor|script|select", re.IGNORECASE)
_TRAVERSAL_HINT = re.compile(
    r"\.\.|%2e|%c0|%c1|/etc/|/proc/|boot\.ini|win\.ini|system32|\.ssh|\.ht|\.env|web-inf", re.I
)
MAX_VALUES = 200  # values inspected per request (a body with more is inspected in part)
MAX_VALUE_LENGTH = 4096

_SQLI_RULES = re.compile(
    r"""\bunion(?:\s|/\*.*?\*/|\+|\()+(?:all(?:\s|/\*.*?\*/|\+)+|distinct\s+)?select\b"""
    r"""|\b(?:sleep|benchmark|pg_sleep|dbms_pipe\.receive_message|randomblob|dbms_lock\.sleep)\s*\("""
    r"""|\bwaitfor\s+(?:delay|time)\b"""
    r"""|;\s*(?:(?:drop|alter|truncate|create)\s+(?:table|database|schema|user|function)|delete\s+from|insert\s+into"""
    r"""|update\s+\w+\s+set|shutdown\b|exec(?:ute)?\s|declare\s+@|select\b[\s\S]{0,80}\bfrom\b)"""
    r"""|\bdeclare\s+@\w+"""
    r"""|\(\s*select\s+(?:\d|null\b|count\s*\(|case\b|\(|char|concat|@@|\w+\s*\(|\*)"""
    r"""|\bcase\s+when\s*\(?\s*[\d'"]+\s*(?:=|<|>)|\(\s*\d+\s*(?:=|<|>)\s*\d+\s*\)|\bwhere\s+\d+\s*=\s*\d+"""
    r"""|['"]\s*\|\||\|\|\s*(?:chr|char)\s*\(|\bfrom\s+dual\b|\b(?:raise_error|ctxsys\.\w+|regexp_substring)\s*\("""
    r"""|\b(?:information_schema|sysobjects|syscolumns|pg_catalog|sqlite_master|mysql\.user|all_tables)\b"""
    r"""|\b(?:extractvalue|updatexml|load_file|utl_inaddr|xp_cmdshell|group_concat|convert|cast)\s*\(.*\bselect\b"""
    r"""|\b(?:extractvalue|updatexml|load_file|utl_inaddr|xp_cmdshell)\s*\("""
    r"""|['")]\s*(?:or|and|xor|\|\||&&)\s+['"(]?[\w@]+['")]?\s*(?:=|<|>|like\b|is\b|in\s*\(|between\b)"""
    r"""|\b(?:or|and)\s+\d+\s*(?:=|<|>|like)\s*\d+"""
    r"""|['"]\s*(?:--[\s-]*|#.*|/\*.*)$"""
    r"""|\border\s+by\s+\d+\s*(?:--|#)"""
    r"""|/\*!\d*""",
    re.IGNORECASE,
)
_XSS_RULES = re.compile(
    r"""<\s*(?:script|iframe|svg|object|embed|img|body|video|audio|details|math|style|link|meta|base|input|table)\b"""
    r"""|\bon[a-z]{3,20}\s*=\s*["'`]?[^\s"'`]"""
    r"""|(?:java|vb)script\s*:"""
    r"""|\bdocument\s*\.\s*(?:cookie|domain|write)|\bsrcdoc\s*=""",
    re.IGNORECASE,
)
# On-handler rule only where markup is possible: "onboarding=fast" in plain text is not an attack.
_MARKUP = re.compile(r"[<>\"'`]")
_TRAVERSAL_RULES = re.compile(
    r"""\.\.[\\/]|[\\/]\.\.$|^\.\.$"""
    r"""|%2e%2e|%252e|\.%2e|%2e\.|%c0%ae|%c0%af|%c1%9c|\.\.;"""
    r"""|(?:/etc/(?:passwd|shadow|hosts|group|issue)|/proc/self/|boot\.ini|win\.ini|system32|\.ssh/|\.htaccess|\.htpasswd"""
    r"""|/\.env\b|web-inf)""",
    re.IGNORECASE,
)


def classify(value: str) -> str | None:
    """The attack class found in `value`, or None."""
    if not value:
        return None
    value = value[:MAX_VALUE_LENGTH]
    candidates = [value]
    if "%" in value or "+" in value:
        decoded = unquote_plus(value)
        if decoded != value:
            candidates.append(decoded)
            if "%" in decoded:
                candidates.append(unquote_plus(decoded))  # double encoding
    for text in candidates:
        if _TRAVERSAL_HINT.search(text) and _TRAVERSAL_RULES.search(text):
            return TRAVERSAL
    for text in candidates:
        if _SUSPICIOUS.isdisjoint(text) and not _KEYWORDS.search(text):
            continue
        if libinjection.is_xss(text)["is_xss"] or (_XSS_RULES.search(text) and (_MARKUP.search(text) or ":" in text)):
            return XSS
        if _SQLI_RULES.search(text) or libinjection.is_sql_injection(text)["is_sqli"]:
            return SQLI
    return None


# Fields whose values are never inspected or logged: anything may be a password.
SKIPPED_FIELDS = frozenset({"password", "current_password", "new_password", "csrf_token", "refresh_token"})


def json_strings(value: Any, field: str = "", budget: list[int] | None = None) -> Iterator[tuple[str, str]]:
    """(field path, text) of every string (and key) in a parsed JSON body, up to MAX_VALUES of them."""
    budget = budget if budget is not None else [MAX_VALUES]
    if budget[0] <= 0:
        return
    if isinstance(value, str):
        budget[0] -= 1
        yield field, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if str(key) in SKIPPED_FIELDS:
                continue
            budget[0] -= 1
            yield field, str(key)
            yield from json_strings(item, f"{field}.{key}" if field else str(key), budget)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_strings(item, f"{field}[{index}]", budget)
