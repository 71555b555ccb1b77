"""Real-user page load times: base.html posts each page's Navigation Timing here with sendBeacon.

The page label is bounded: only the page names the app hands over (those its templates declare, see
`abb.web.kit.KNOWN_PAGES`) are kept, anything else is counted as "other"; the body is validated strictly.
"""

from __future__ import annotations

from collections.abc import Set

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from abb.core.openapi import problem_responses
from abb.observability.metrics import FRONTEND_PAGE_LOAD

OTHER_PAGE = "other"


class PageTimingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")
    # Navigation Timing: loadEventEnd - startTime, in milliseconds (at most ten minutes).
    load_ms: float = Field(gt=0, le=600_000)


def frontend_router(known_pages: Set[str]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["observability"])

    @router.post("/rum", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(400, 413, 422))
    def page_timing(body: PageTimingIn) -> Response:
        page = body.page if body.page in known_pages else OTHER_PAGE
        FRONTEND_PAGE_LOAD.labels(page=page).observe(body.load_ms / 1000)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
