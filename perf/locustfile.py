"""Realistic mixed traffic for `make perf` (perf/run.py): signed-in SMEs and partners of the seeded demo data.

SMEs browse the partner directory (API and page), read their matches, accept suggestions, enroll in courses
and pay the deals partners open with them by bank transfer; partners browse SMEs, accept, and open deals on
connected matches. Every user signs in once (API token, and the web session cookie for pages). Answers that
are right for a race (409: already decided, already enrolled, deal no longer payable) are successes; anything
else that is not 2xx is an error. Request names are route templates, so the report has one row per endpoint.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from typing import Any

from locust import HttpUser, between, task

PASSWORD = "bridge-demo-2026"  # the seeded accounts' password (abb seed-demo); loopback only
SMES = int(os.environ.get("ABB_PERF_SMES", "300"))
# seed-demo numbers users in order: SMEs 1..SMES (the first is the demo SME), then partners.
_sme_serials = itertools.cycle(range(2, SMES + 1))
_partner_serials = itertools.cycle(range(SMES + 2, 2 * SMES + 1))
# Each simulated person has an address of their own, as real users behind the load balancer do: the app
# runs behind a trusted proxy (uvicorn's proxy headers, trusted from loopback), so X-Forwarded-For is their
# address and the per-address rate limit sees many visitors, not one (from 127.0.0.1 it answered 429).
_addresses = (f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" for n in itertools.count(1))
EXPECTED_CONFLICT = 409
SIGN_IN_ATTEMPTS = 5


class Member(HttpUser):
    abstract = True
    wait_time = between(0.5, 2.0)
    role = "sme"

    def on_start(self) -> None:
        self.client.headers["X-Forwarded-For"] = next(_addresses)
        serial = next(_sme_serials if self.role == "sme" else _partner_serials)
        email = f"{self.role}{serial}@demo.africabusinessbridge.example"
        self.auth: dict[str, str] = {}
        for _attempt in range(SIGN_IN_ATTEMPTS):  # shed (503): retry after Retry-After, as a client should
            login = self.client.post(
                "/api/v1/auth/login", json={"email": email, "password": PASSWORD}, name="sign in (API)"
            )
            if login.ok:
                self.auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
                break
            time.sleep(float(login.headers.get("Retry-After", "2")))
        if not self.auth:
            self.stop()  # a user who cannot sign in leaves; their failed attempts are in the table
            return
        # The web session for pages, for every third user (a sign-in costs an Argon2 hash): the sign-in form with
        # its CSRF double-submit cookie. The cookie is Secure (production settings): sent by hand over http.
        self.page: dict[str, str] | None = None
        if serial % 3:
            return
        form = self.client.get("/login", name="sign-in page")
        csrf = form.cookies.get("abb_csrf", "")
        signed = self.client.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": csrf},
            headers={"Cookie": f"abb_csrf={csrf}"},
            allow_redirects=False,
            name="sign in (page)",
        )
        self.page = {"Cookie": f"abb_session={signed.cookies.get('abb_session', '')}; abb_csrf={csrf}"}

    def get_json(self, path: str, name: str, **params: Any) -> Any:
        response = self.client.get(path, headers=self.auth, params=params or None, name=name)
        return response.json() if response.ok else None

    def post_expecting(self, path: str, name: str, body: dict[str, Any] | None = None) -> Any:
        with self.client.post(path, headers=self.auth, json=body, name=name, catch_response=True) as response:
            if response.ok:
                return response.json()
            if response.status_code == EXPECTED_CONFLICT:
                response.success()  # lost a race or already done: the right answer
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")
        return None

    def accept_a_suggestion(self, status: str = "suggested") -> None:
        page = self.get_json("/api/v1/matches", "/api/v1/matches", status=status, limit=10)
        if page and page["items"]:
            match = random.choice(page["items"])
            self.post_expecting(f"/api/v1/matches/{match['id']}/accept", "/api/v1/matches/{match_id}/accept")


class Sme(Member):
    weight = 3
    role = "sme"

    @task(4)
    def browse_partners(self) -> None:
        self.get_json("/api/v1/partners", "/api/v1/partners", limit=20, offset=random.randrange(0, 200, 20))

    @task(2)
    def partner_directory_page(self) -> None:
        if self.page:
            self.client.get("/partners", headers=self.page, name="page /partners")

    @task(3)
    def read_matches(self) -> None:
        self.get_json("/api/v1/matches", "/api/v1/matches", limit=20)

    @task(1)
    def matches_page(self) -> None:
        if self.page:
            self.client.get("/matches", headers=self.page, name="page /matches")

    @task(1)
    def accept(self) -> None:
        self.accept_a_suggestion()

    @task(1)
    def enroll(self) -> None:
        courses = self.get_json("/api/v1/courses", "/api/v1/courses")
        if courses and courses["items"]:
            course = random.choice(courses["items"])
            self.post_expecting(
                f"/api/v1/courses/{course['id']}/enrollments",
                "/api/v1/courses/{course_id}/enrollments",
                {"waitlist": True},
            )

    @task(1)
    def pay_a_deal(self) -> None:
        deals = self.get_json("/api/v1/deals", "/api/v1/deals", state="draft")
        if deals and deals["items"]:
            deal = deals["items"][0]
            self.post_expecting(
                f"/api/v1/deals/{deal['id']}/pay", "/api/v1/deals/{deal_id}/pay", {"provider": "bank_transfer"}
            )


class Partner(Member):
    weight = 2
    role = "partner"

    @task(4)
    def browse_smes(self) -> None:
        self.get_json("/api/v1/smes", "/api/v1/smes", limit=20, offset=random.randrange(0, 200, 20))

    @task(3)
    def read_matches(self) -> None:
        self.get_json("/api/v1/matches", "/api/v1/matches", limit=20)

    @task(2)
    def accept(self) -> None:
        self.accept_a_suggestion(random.choice(("accepted", "suggested")))  # "accepted": the SME said yes

    @task(1)
    def open_a_deal(self) -> None:
        page = self.get_json("/api/v1/matches", "/api/v1/matches", status="connected", limit=5)
        if page and page["items"]:
            match = random.choice(page["items"])
            body = {
                "match_id": match["id"],
                "description": "Pilot order: two pallets",
                "amount": f"{random.randint(100, 5000)}.00",
                "currency": "EUR",
                "due_date": "2027-06-30",
            }
            self.post_expecting("/api/v1/deals", "/api/v1/deals (open)", body)

    @task(1)
    def deals(self) -> None:
        self.get_json("/api/v1/deals", "/api/v1/deals")
