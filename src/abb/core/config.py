"""Settings, read from ABB_* environment variables and an optional .env file.

The embedded default (SQLite under ./var/, no other service) needs no configuration at all;
production refuses to start with anything that is only safe on a laptop.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Only ever used when nothing is configured; production rejects it (see check_production).
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105 - rejected in production
MIN_SECRET_KEY_LENGTH = 32
OWASP_ARGON2_MIN_MEMORY_KIB = 19_456  # with two passes: OWASP's Password Storage Cheat Sheet's lowest Argon2id
RESERVED_CONNECTIONS = 2  # kept from request admission for the readiness check and the /metrics collectors


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
    # PostgreSQL: how long a statement may wait for a row lock, and run at all, before it fails (and the
    # request gets 503 + Retry-After); SQLite: how long a write waits for the database's write lock.
    # Nothing waits forever, so no cycle of waiters can hang the service (docs/capacity.md).
    database_lock_timeout_seconds: float = Field(default=5.0, gt=0, le=600)
    database_statement_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # A transaction left open this long without a statement is ended by PostgreSQL (its locks released).
    database_idle_in_transaction_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Requests per worker process that may hold a database session at once (default: the pool size, less two
    # for /health/ready and /metrics when the pool has no overflow, so a checkout never waits for the pool);
    # the others queue, in arrival order, for at most `request_queue_seconds`, at most `request_queue_max` of
    # them; beyond that 503 + Retry-After.
    request_concurrency: int | None = Field(default=None, ge=1, le=1000)
    request_queue_seconds: float = Field(default=10.0, ge=0, le=300)
    request_queue_max: int = Field(default=1000, ge=0, le=100_000)
    # Requests per worker process that may run Argon2 (sign-in, registration, password change or reset,
    # erasure) at once; the others wait for a turn on the event loop before they take a database session or a
    # request thread, in the same queue bounds as above, so a sign-in burst does not starve other requests.
    # Hashing itself runs one at a time (core/security.py): the second turn does its database work meanwhile.
    password_hashing_concurrency: int = Field(default=2, ge=1, le=64)
    # Argon2id's cost for new password hashes (argon2-cffi's defaults, RFC 9106's second recommendation).
    # Production refuses less than OWASP's floor (19 MiB, two passes); the test suite uses the smallest cost
    # except in the tests about the cost itself. Existing hashes keep the cost they were made with.
    password_hash_time_cost: int = Field(default=3, ge=1, le=20)
    password_hash_memory_kib: int = Field(default=65_536, ge=8, le=1_048_576)
    password_hash_parallelism: int = Field(default=4, ge=1, le=16)
    # What Retry-After says when a request is shed (overload) or the database is unreachable.
    retry_after_seconds: int = Field(default=2, ge=1, le=3600)
    # SIGTERM (Cloud Run gives 10 s before SIGKILL): requests in progress get this long, then are cancelled.
    shutdown_grace_seconds: float = Field(default=8.0, ge=0, le=3600)
    # Python's GIL switch interval (5 ms by default): the event loop's thread waits at most about this long for
    # the GIL behind request threads running Python, so probes and dispatch are not held up by busy threads.
    gil_switch_interval_seconds: float = Field(default=0.001, gt=0, le=0.1)
    # How often the event loop's lag is sampled (abb_event_loop_lag_seconds).
    loop_lag_interval_seconds: float = Field(default=0.25, gt=0, le=60)
    # Threads per worker process for blocking work (sync endpoints and dependencies, database calls).
    # Few on purpose: under load more threads only queue for the GIL on the worker's core; with 40
    # (Starlette's default) a database read's p99 was 5x worse and its throughput 20 % lower (docs/observability.md).
    threadpool_size: int = Field(default=4, ge=1, le=200)
    # Allocations between young garbage collections (Python's default: 700); see core/garbage_collection.py.
    gc_gen0_threshold: int = Field(default=10_000, ge=100, le=1_000_000)

    access_token_minutes: int = Field(default=15, ge=1, le=60)
    refresh_token_days: int = Field(default=14, ge=1, le=90)
    web_session_hours: int = Field(default=8, ge=1, le=72)
    cookie_secure: bool = True
    password_min_length: int = Field(default=10, ge=8)
    # A password-reset link works once, for this long; a new request within the pause sends nothing more.
    password_reset_minutes: int = Field(default=60, ge=5, le=24 * 60)
    password_reset_pause_seconds: int = Field(default=60, ge=0, le=3600)

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    page_size_max: int = 100

    # Uploads (company logos, documents): where files go and how large they may be.
    storage_backend: Literal["local", "gcs"] = "local"
    gcs_bucket: str = ""
    upload_dir: Path | None = None  # default: <var_dir>/uploads
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)

    # Deals and payments (src/abb/deals, src/abb/payments).
    stripe_secret_key: SecretStr = SecretStr("")
    stripe_webhook_secret: SecretStr = SecretStr("")
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    payment_max_retries: int = Field(default=4, ge=0, le=20)
    payment_retry_base_seconds: float = Field(default=60.0, ge=0)
    idempotency_wait_seconds: float = Field(default=5.0, ge=0, le=60)
    platform_fee_percent: Decimal = Field(default=Decimal("2.0"), ge=0, le=50)
    platform_bank_account_name: str = "Africa Business Bridge S.r.l."
    platform_bank_name: str = "Banca Demo S.p.A."
    platform_bank_iban: str = "IT60X0542811101000000123456"
    platform_bank_bic: str = "BDEMITMMXXX"
    # Paid courses (docs/design.md, "Paid seats"): how long an unpaid enrollment holds its seat. A card payment is
    # confirmed in minutes; a bank transfer takes up to two or three working days.
    seat_hold_card_minutes: int = Field(default=30, ge=1, le=24 * 60)
    seat_hold_transfer_minutes: int = Field(default=3 * 24 * 60, ge=1, le=30 * 24 * 60)

    # Observability (docs/observability.md): metrics, logs, tracing, health checks.
    metrics_enabled: bool = True
    # /metrics guard: a bearer token, an address allow-list (CIDRs), and/or a separate port (0 = none).
    metrics_token: SecretStr | None = None
    metrics_allow: list[str] = ["127.0.0.0/8", "::1/128"]
    metrics_port: int = Field(default=0, ge=0, le=65535)
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    host_metrics: bool = True
    metrics_cache_seconds: float = Field(default=15.0, ge=0)
    access_log: bool = True
    # How long finished requests' metrics and access lines may wait to be recorded in a batch (0: at once).
    telemetry_flush_seconds: float = Field(default=1.0, ge=0, le=60)
    # None: short text lines when `abb serve` writes to a terminal in development, JSON otherwise.
    log_json: bool | None = None
    log_levels: str = "abb=INFO,sqlalchemy.engine=WARNING,uvicorn=INFO"
    db_slow_query_seconds: float = Field(default=0.5, gt=0)
    logstash_host: str = ""
    logstash_port: int = Field(default=5959, ge=1, le=65535)
    logstash_buffer_path: Path | None = None
    tracing_enabled: bool | None = None  # None: on when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set
    tracing_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    # Grafana's address, for the admin status page's links to the dashboards (empty: no links).
    grafana_url: str = ""
    health_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    redis_url: str = ""
    git_commit: str = ""

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

    # Background work and cache (src/abb/tasks/, src/abb/core/cache.py). `redis_url` (above) empty means
    # the embedded mode: tasks run in-process and nothing is cached. Broker and result backend default to it.
    celery_broker_url: str = ""
    celery_result_backend: str = ""
    # A task not acknowledged this long after delivery (worker killed) is handed to another worker; it must
    # exceed the longest task run (task_time_limit_seconds, checked at start-up) so that a running task is
    # never handed out twice. Long work is split into tasks that fit (docs/capacity.md, "Celery").
    celery_visibility_timeout: int = Field(default=120, ge=1)
    task_time_limit_seconds: int = Field(default=90, ge=1)
    task_soft_time_limit_seconds: int = Field(default=80, ge=1)
    cache_ttl_seconds: int = Field(default=60, ge=1, le=3600)
    smtp_host: str = ""  # empty: no e-mail is sent (embedded mode); notifications are logged as skipped
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "Africa Business Bridge <no-reply@africabusinessbridge.example>"
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    public_base_url: str = "http://127.0.0.1:8000"

    # Security (docs/security.md): audit events, brute force, rate limits, injection detection, headers.
    # Security events wait at most this long to be written to the audit table in a batch (0: at the end of
    # the request that raised them).
    security_flush_seconds: float = Field(default=1.0, ge=0, le=60)
    login_window_seconds: int = Field(default=900, ge=10, le=86_400)  # sliding window of the failure counters
    login_delay_after: int = Field(default=3, ge=1, le=100)  # failures before each attempt must wait
    login_delay_max_seconds: float = Field(default=30.0, ge=0.1, le=600)
    login_lock_after: int = Field(default=10, ge=2, le=1000)  # failures of one account before a lockout
    login_ip_lock_after: int = Field(default=50, ge=2, le=10_000)  # failures from one address before a lockout
    login_lock_seconds: int = Field(default=900, ge=10, le=86_400)
    # One address failing for this many accounts, or one account failing from this many addresses: an event.
    stuffing_accounts_per_ip: int = Field(default=5, ge=2, le=1000)
    stuffing_ips_per_account: int = Field(default=5, ge=2, le=1000)
    # Rate limits (`limits` notation, e.g. "300/minute"); Redis when ABB_REDIS_URL is set, else per process.
    rate_limit_ip: str = "600/minute"
    rate_limit_user: str = "1200/minute"
    rate_limit_auth_ip: str = "30/minute"
    # Injection and probing detection on path, query, forms and JSON bodies: off, log, or block (403).
    detection_mode: Literal["off", "log", "block"] = "log"
    # Per-address request-rate anomaly: EWMA of requests per interval, event when the z-score passes this.
    anomaly_interval_seconds: float = Field(default=10.0, ge=1, le=3600)
    anomaly_z_threshold: float = Field(default=6.0, ge=1, le=100)
    anomaly_min_requests: int = Field(default=100, ge=1)
    hsts_seconds: int = Field(default=31_536_000, ge=0)
    cors_allow_origins: list[str] = []
    # GDPR retention (days) per kind of data, applied by the nightly retention task (docs/compliance.md).
    retention_sessions_days: int = Field(default=30, ge=1)  # expired or revoked refresh tokens
    retention_data_access_log_days: int = Field(default=365, ge=1)
    retention_inactive_accounts_days: int = Field(default=1095, ge=30)  # then the account is anonymized
    terms_version: str = "2026-01"

    # Monitoring (docs/monitoring.md): the live alert tests make requests fail on demand (X-Abb-Fault: error).
    # Honoured only when env is "test"; production refuses to start with it.
    fault_injection: bool = False

    @property
    def resolved_celery_broker_url(self) -> str:
        return self.celery_broker_url or self.redis_url

    @property
    def resolved_celery_result_backend(self) -> str:
        return self.celery_result_backend or self.redis_url

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'abb.sqlite3').as_posix()}"

    @property
    def resolved_upload_dir(self) -> Path:
        return self.upload_dir or self.var_dir / "uploads"

    @property
    def resolved_request_concurrency(self) -> int:
        # Default: the pool's size, keeping two connections for /health/ready and /metrics when there is no
        # overflow for them (a fixed pool, as on Cloud Run: 6 -> 4, the request threads).
        spare = self.database_pool_size + self.database_max_overflow - RESERVED_CONNECTIONS
        return self.request_concurrency or max(1, min(self.database_pool_size, spare))

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @model_validator(mode="after")
    def check_capacity(self) -> Settings:
        # Each admitted request holds at most one connection: with no more admitted than the pool holds, a
        # checkout never waits for a connection held by a request that waits for a thread.
        if self.resolved_request_concurrency > self.database_pool_size + self.database_max_overflow:
            raise ValueError(
                "ABB_REQUEST_CONCURRENCY must not exceed ABB_DATABASE_POOL_SIZE + ABB_DATABASE_MAX_OVERFLOW"
            )
        if self.task_time_limit_seconds >= self.celery_visibility_timeout:
            raise ValueError(
                "ABB_TASK_TIME_LIMIT_SECONDS must be below ABB_CELERY_VISIBILITY_TIMEOUT (a task still running "
                "when its message becomes visible again would run twice at once)"
            )
        return self

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
        if self.password_hash_memory_kib < OWASP_ARGON2_MIN_MEMORY_KIB or self.password_hash_time_cost < 2:
            problems.append(
                f"ABB_PASSWORD_HASH_MEMORY_KIB must be at least {OWASP_ARGON2_MIN_MEMORY_KIB} and "
                "ABB_PASSWORD_HASH_TIME_COST at least 2"
            )
        if self.fault_injection:
            problems.append("ABB_FAULT_INJECTION is for tests only")
        if not (self.metrics_token or self.metrics_port) and self.metrics_enabled:
            # Behind a reverse proxy on the same host every caller's address is loopback: never enough alone.
            problems.append("ABB_METRICS_TOKEN or ABB_METRICS_PORT must guard /metrics")
        if problems:
            # The message names the settings, never their values.
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
