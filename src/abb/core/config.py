"""Settings, read from ABB_* environment variables and an optional .env file.

The embedded default (SQLite under ./var/, no other service) needs no configuration at all;
production refuses to start with anything that is only safe on a laptop.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Only ever used when nothing is configured; production rejects it (see check_production).
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105 - rejected in production
MIN_SECRET_KEY_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ABB_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    service_name: str = "abb-api"
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    var_dir: Path = Path("var")
    database_url: str = ""
    database_pool_size: int = 10
    database_max_overflow: int = 10
    database_pool_timeout: float = 5.0
    database_connect_timeout: int = 3

    access_token_minutes: int = Field(default=15, ge=1, le=60)
    refresh_token_days: int = Field(default=14, ge=1, le=90)
    web_session_hours: int = Field(default=8, ge=1, le=72)
    cookie_secure: bool = True
    password_min_length: int = Field(default=10, ge=8)

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    page_size_max: int = 100

    # Uploads (company logos, documents): where files go and how large they may be.
    storage_backend: Literal["local", "gcs"] = "local"
    gcs_bucket: str = ""
    upload_dir: Path = Path("var/uploads")
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)

    # Matching (src/abb/matching/engine.py): each factor's weight (relative; they need not add up to 100),
    # how many suggestions to store per profile, and the lowest score worth suggesting.
    matching_weight_sector: float = Field(default=30.0, ge=0, le=100)
    matching_weight_text: float = Field(default=25.0, ge=0, le=100)
    matching_weight_country: float = Field(default=20.0, ge=0, le=100)
    matching_weight_language: float = Field(default=10.0, ge=0, le=100)
    matching_weight_size: float = Field(default=5.0, ge=0, le=100)
    matching_weight_completeness: float = Field(default=5.0, ge=0, le=100)
    matching_weight_activity: float = Field(default=5.0, ge=0, le=100)
    matching_top_n: int = Field(default=20, ge=1, le=200)
    matching_min_score: float = Field(default=20.0, ge=0, le=100)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'abb.sqlite3').as_posix()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @model_validator(mode="after")
    def check_production(self) -> Settings:
        if self.env != "production":
            return self
        problems = []
        key = self.secret_key.get_secret_value()
        if key == DEV_SECRET_KEY or len(key) < MIN_SECRET_KEY_LENGTH:
            problems.append(
                f"ABB_SECRET_KEY must be set to a random value of at least {MIN_SECRET_KEY_LENGTH} characters"
            )
        if self.is_sqlite:
            problems.append("ABB_DATABASE_URL must point at PostgreSQL, not SQLite")
        if self.storage_backend == "gcs" and not self.gcs_bucket:
            problems.append("ABB_GCS_BUCKET must name the bucket when ABB_STORAGE_BACKEND is gcs")
        if not self.cookie_secure:
            problems.append("ABB_COOKIE_SECURE must stay true")
        if problems:
            # The message names the settings, never their values.
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
