"""Real-user page load times: base.html posts each page's Navigation Timing here with sendBeacon.

The page label is bounded: only names that the templates declare (`{% block page %}`) are kept,
anything else is counted as "other"; the body is validated strictly.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from abb.accounts.models import Role
from abb.core.openapi import problem_responses
from abb.observability.metrics import FRONTEND_PAGE_LOAD

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "web" / "templates"
OTHER_PAGE = "other"
_PAGE_BLOCK = re.compile(r"{%\s*block page\s*%}(.*?){%\s*endblock\s*%}")


def known_pages(templates: Path = TEMPLATES_DIR) -> frozenset[str]:
    """Every page name the templates declare; the directory pages name the profile kind (a role)."""
    names: set[str] = set()
    for template in templates.rglob("*.html"):
        for name in _PAGE_BLOCK.findall(template.read_text(encoding="utf-8")):
            if "{{ kind }}" in name:
                names.update(name.replace("{{ kind }}", role.value) for role in Role)
            elif "{" not in name:
                names.add(name.strip())
    return frozenset(names)


KNOWN_PAGES = known_pages()


class PageTimingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")
    # Navigation Timing: loadEventEnd - startTime, in milliseconds (at most ten minutes).
    load_ms: float = Field(gt=0, le=600_000)


router = APIRouter(prefix="/api/v1", tags=["observability"])


@router.post("/rum", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(400, 413, 422))
def page_timing(body: PageTimingIn) -> Response:
    page = body.page if body.page in KNOWN_PAGES else OTHER_PAGE
    FRONTEND_PAGE_LOAD.labels(page=page).observe(body.load_ms / 1000)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
