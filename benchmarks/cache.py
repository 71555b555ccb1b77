"""What the Redis cache saves on hot reads: the partner directory and a user's match list, through the API.

    .venv/bin/python benchmarks/cache.py                    # 20,000 partners, 200 SMEs
    .venv/bin/python benchmarks/cache.py --partners 2000    # a quicker run

Starts a throwaway PostgreSQL and Redis (tests/harness: Debian's postgresql and redis-server packages),
seeds them with the demo generators, then signs in as the demo SME and times the same GET requests twice
in one run: answered from PostgreSQL every time (no ABB_REDIS_URL, the baseline), and answered from the
warm Redis cache. Requests go through the whole application in-process (FastAPI TestClient): routing,
authentication, the database session, serialization. Prints the median and 95th percentile per request
and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.harness

from tests.harness.redis import RedisServer
from tests.harness.services import PostgresServer

from abb.companies.taxonomy import PARTNER_COUNTRIES, SECTORS
from abb.core.config import get_settings
from abb.core.migrate import upgrade
from abb.demo.seed import DEMO_PASSWORD, DEMO_SME, seed_database


def directory_paths() -> list[str]:
    """Directory pages a visitor would open: by sector and country, first and second page, and a text search."""
    paths = [
        f"/api/v1/partners?sector={sector}&country={country}&offset={offset}"
        for sector in list(SECTORS)[:6]
        for country in PARTNER_COUNTRIES
        for offset in (0, 20)
    ]
    return [*paths, "/api/v1/partners?q=distribution", "/api/v1/partners"]


def timed(client: TestClient, headers: dict[str, str], paths: list[str], rounds: int) -> list[float]:
    for path in paths:  # warm-up: connections, and the cache when there is one
        client.get(path, headers=headers).raise_for_status()
    samples = []
    for _ in range(rounds):
        for path in paths:
            start = time.perf_counter()
            response = client.get(path, headers=headers)
            samples.append(time.perf_counter() - start)
            response.raise_for_status()
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def use(redis_url: str) -> None:
    os.environ["ABB_REDIS_URL"] = redis_url
    get_settings.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partners", type=int, default=20_000)
    parser.add_argument("--smes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the request list per mode")
    args = parser.parse_args()

    postgres, redis_server = PostgresServer(), RedisServer()
    try:
        os.environ.update(
            ABB_DATABASE_URL=postgres.create_database("abb_cache_bench"),
            ABB_ACCESS_LOG="false",
            ABB_LOG_LEVELS="abb=WARNING,sqlalchemy.engine=WARNING",
        )
        use("")
        upgrade()
        print(seed_database(smes=args.smes, partners=args.partners, seed=2026).split(";")[0])

        from abb.app import create_app

        with TestClient(create_app(get_settings()), base_url="https://testserver") as client:
            login = client.post("/api/v1/auth/login", json={"email": DEMO_SME, "password": DEMO_PASSWORD})
            login.raise_for_status()
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            workloads = {"partner directory": directory_paths(), "my match list": ["/api/v1/matches"] * 10}
            print(f"{'read':<20}{'answered from':<16}{'median ms':>10}{'p95 ms':>10}{'vs database':>13}")
            for name, paths in workloads.items():
                use("")
                base_median, base_p95 = summary(timed(client, headers, paths, args.rounds))
                use(redis_server.url)
                median, p95 = summary(timed(client, headers, paths, args.rounds))
                print(f"{name:<20}{'PostgreSQL':<16}{base_median:>10.2f}{base_p95:>10.2f}{'1.00x':>13}")
                print(f"{'':<20}{'Redis cache':<16}{median:>10.2f}{p95:>10.2f}{base_median / median:>12.2f}x")
    finally:
        redis_server.close()
        postgres.close()


if __name__ == "__main__":
    main()
