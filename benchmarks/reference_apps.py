"""Reference apps for benchmarks/throughput.py: what bare FastAPI does, served by the same uvicorn.

    uvicorn --factory reference_apps:hello_app        # GET /hello -> {"message": "hello"}
    ABB_DATABASE_URL=... uvicorn --factory reference_apps:row_app   # GET /users/{id}: one row by primary key

`row_app` is the FastAPI tutorial's shape: a session per request from a dependency, a plain `def` endpoint
(run on Starlette's thread pool), SQLAlchemy 2 with the same driver and database as the service.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker


def hello_app() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"message": "hello"}

    return app


def row_app() -> FastAPI:
    url = os.environ["ABB_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url, pool_size=10, max_overflow=10)
    factory = sessionmaker(bind=engine)
    app = FastAPI()

    def get_db() -> Iterator[Session]:
        session = factory()
        try:
            yield session
        finally:
            session.close()

    @app.get("/users/{user_id}")
    def read_user(user_id: int, db: Annotated[Session, Depends(get_db)]) -> dict[str, Any]:
        row = db.execute(
            text("SELECT id, email, full_name, role, is_active FROM users WHERE id = :id"), {"id": user_id}
        ).one_or_none()
        if row is None:
            raise HTTPException(404)
        return dict(row._mapping)

    return app
