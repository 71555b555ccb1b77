"""A bare FastAPI app with nothing that could block its loop: the control next to the service in timing-sensitive
tests (both see the same machine; only the service's own blocking shows as a difference)."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}
