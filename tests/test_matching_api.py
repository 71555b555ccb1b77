"""Matching through the API: recompute, ranked explained suggestions, the accept/decline/close lifecycle, meetings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from abb.accounts.models import Role, User
from abb.matching import service
from abb.matching.models import Meeting, MeetingStatus, Side
from tests.factories import assert_problem, auth, db_snapshot, make_partner, make_sme, make_user


def counter(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


@pytest.fixture
def world(session):
    """An SME in agri-food targeting Kenya, and three partners from a close fit to a poor one."""
    sme = make_sme(session)
    good = make_partner(session, organization_name="Savanna Foods", city="Nairobi")
    fair = make_partner(
        session,
        organization_name="Kilimanjaro Agro",
        country="TZ",
        city="Arusha",
        services="Import of farm machinery and agri-food processing lines",
        company_size="small",
    )
    poor = make_partner(
        session,
        organization_name="Abay Software",
        country="ET",
        city="Addis Ababa",
        sectors=["ict"],
        services="Mobile money integration and IT consulting",
        languages=["am"],
    )
    return {"sme": sme, "good": good, "fair": fair, "poor": poor}


def owner(session, profile) -> User:
    return session.get(User, profile.owner_id)


def connect(client, session, world, partner_key: str = "good") -> tuple[int, dict, dict]:
    """Recompute for the SME; both sides accept its match with `partner_key`. (match id, SME and partner headers)"""
    sme_headers = auth(client, owner(session, world["sme"]))
    partner_headers = auth(client, owner(session, world[partner_key]))
    assert client.post("/api/v1/matches/recompute", headers=sme_headers).status_code == 200
    match_id = next(
        m["id"]
        for m in client.get("/api/v1/matches", headers=sme_headers).json()["items"]
        if m["counterpart"]["profile_id"] == world[partner_key].id
    )
    assert client.post(f"/api/v1/matches/{match_id}/accept", headers=sme_headers).json()["status"] == "accepted"
    assert client.post(f"/api/v1/matches/{match_id}/accept", headers=partner_headers).json()["status"] == "connected"
    return match_id, sme_headers, partner_headers


def test_recompute_stores_ranked_explained_matches(client, session, world):
    headers = auth(client, owner(session, world["sme"]))
    created_before = counter("abb_matches_created_total")
    recomputed = client.post("/api/v1/matches/recompute", headers=headers)
    assert recomputed.status_code == 200, recomputed.text
    assert recomputed.json() == {"created": 2}  # the poor fit scores below matching_min_score
    assert counter("abb_matches_created_total") - created_before == 2

    page = client.get("/api/v1/matches", headers=headers).json()
    assert page["total"] == 2
    names = [m["counterpart"]["name"] for m in page["items"]]
    assert names == ["Savanna Foods", "Kilimanjaro Agro"]
    best = page["items"][0]
    assert best["status"] == "suggested" and best["your_decision"] == best["their_decision"] == "pending"
    assert 0 < page["items"][1]["score"] < best["score"] <= 100
    assert "both work in agri-food processing" in best["explanation"].lower()
    assert "you target Kenya, they are in Nairobi" in best["explanation"]
    assert set(best["factors"]) == {"sector", "text", "country", "language", "size", "completeness", "activity"}
    assert sum(best["factors"].values()) == pytest.approx(best["score"], abs=0.1)

    # The partner sees the same match, worded for them.
    partner_view = client.get(f"/api/v1/matches/{best['id']}", headers=auth(client, owner(session, world["good"])))
    assert partner_view.status_code == 200
    assert "they target Kenya, you are in Nairobi" in partner_view.json()["explanation"]
    assert partner_view.json()["counterpart"]["name"] == world["sme"].company_name


def test_recompute_is_idempotent_and_never_overwrites_decisions(client, session, world, settings):
    sme_id = world["sme"].id
    first = service.recompute_for_profile(session, role=Role.SME, profile_id=sme_id, settings=settings)
    assert len(first) == 2
    before = db_snapshot(session)
    assert service.recompute_for_profile(session, role=Role.SME, profile_id=sme_id, settings=settings) == []
    assert db_snapshot(session) == before

    headers = auth(client, owner(session, world["sme"]))
    items = client.get("/api/v1/matches", headers=headers).json()["items"]
    accepted = client.post(f"/api/v1/matches/{items[0]['id']}/accept", headers=headers).json()
    # The SME's profile changes: the untouched suggestion is rescored, the accepted match is left alone.
    client.patch(f"/api/v1/smes/{sme_id}", json={"target_countries": ["TZ"]}, headers=headers).raise_for_status()
    assert service.recompute_for_profile(session, role=Role.SME, profile_id=sme_id, settings=settings) == []
    after = {m["id"]: m for m in client.get("/api/v1/matches", headers=headers).json()["items"]}
    assert after[accepted["id"]]["score"] == accepted["score"]
    assert after[accepted["id"]]["explanation"] == accepted["explanation"]
    rescored = after[items[1]["id"]]
    assert rescored["score"] > items[1]["score"]  # Kilimanjaro Agro is in Tanzania, now a target
    assert "you target Tanzania, they are in Arusha" in rescored["explanation"]

    # A partner-side recompute finds the same pairs: no duplicates, nothing new for those.
    created = service.recompute_for_profile(session, role=Role.PARTNER, profile_id=world["good"].id, settings=settings)
    assert created == []


def test_recompute_all_covers_every_sme(client, session, world, settings):
    other = make_sme(session, sectors=["ict"], products="Mobile payment integration software", target_countries=["ET"])
    before = counter("abb_matches_created_total")
    created = service.recompute_all(session, settings=settings)
    assert created == 3  # two for the first SME, one (the software firm) for the second
    assert counter("abb_matches_created_total") - before == 3
    items, total = service.list_matches_for_user(session, user=owner(session, other), status=None, limit=10, offset=0)
    assert total == 1 and items[0].partner_id == world["poor"].id
    assert service.recompute_all(session, settings=settings) == 0


def test_both_sides_accept_and_connect(client, session, world):
    accepted_before = counter("abb_matches_accepted_total")
    match_id, sme_headers, partner_headers = connect(client, session, world)
    assert counter("abb_matches_accepted_total") - accepted_before == 1
    for headers in (sme_headers, partner_headers):
        match = client.get(f"/api/v1/matches/{match_id}", headers=headers).json()
        assert match["status"] == "connected"
        assert match["your_decision"] == match["their_decision"] == "accepted"
        assert match["connected_at"] is not None
    connected = client.get("/api/v1/matches", params={"status": "connected"}, headers=partner_headers).json()
    assert [m["id"] for m in connected["items"]] == [match_id]

    closed = client.post(f"/api/v1/matches/{match_id}/close", headers=partner_headers)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    before = db_snapshot(session)
    assert_problem(client.post(f"/api/v1/matches/{match_id}/close", headers=sme_headers), 409, "invalid-transition")
    assert db_snapshot(session) == before


def test_invalid_transitions_are_refused_and_change_nothing(client, session, world):
    sme_headers = auth(client, owner(session, world["sme"]))
    good_headers = auth(client, owner(session, world["good"]))
    fair_headers = auth(client, owner(session, world["fair"]))
    client.post("/api/v1/matches/recompute", headers=sme_headers).raise_for_status()
    good_match, fair_match = (m["id"] for m in client.get("/api/v1/matches", headers=sme_headers).json()["items"])
    client.post(f"/api/v1/matches/{good_match}/accept", headers=sme_headers).raise_for_status()
    client.post(f"/api/v1/matches/{fair_match}/decline", headers=fair_headers).raise_for_status()
    admin_headers = auth(client, make_user(session, Role.ADMIN))
    stranger_headers = auth(client, owner(session, make_sme(session)))

    before = db_snapshot(session)
    refusals = [
        (f"/api/v1/matches/{good_match}/accept", sme_headers, 409, "invalid-transition"),  # accepting twice
        (f"/api/v1/matches/{good_match}/decline", sme_headers, 409, "invalid-transition"),  # after accepting
        (f"/api/v1/matches/{fair_match}/accept", sme_headers, 409, "invalid-transition"),  # declined by them
        (f"/api/v1/matches/{fair_match}/accept", fair_headers, 409, "invalid-transition"),
        (f"/api/v1/matches/{good_match}/close", good_headers, 409, "invalid-transition"),  # not connected
        (f"/api/v1/matches/{good_match}/accept", fair_headers, 403, "forbidden"),  # someone else's match
        (f"/api/v1/matches/{good_match}/decline", stranger_headers, 403, "forbidden"),
        (f"/api/v1/matches/{good_match}/accept", admin_headers, 403, "forbidden"),
        ("/api/v1/matches/recompute", admin_headers, 403, "forbidden"),
        ("/api/v1/matches/999999/accept", sme_headers, 404, "not-found"),
        ("/api/v1/matches/99999999999/accept", sme_headers, 422, "validation-error"),
        ("/api/v1/matches/abc/accept", sme_headers, 422, "validation-error"),
        (f"/api/v1/matches/{good_match}/accept", {}, 401, "unauthorized"),
        (f"/api/v1/matches/{good_match}/meetings", sme_headers, 422, "validation-error"),  # no body
    ]
    for path, headers, status, slug in refusals:
        assert_problem(client.post(path, headers=headers), status, slug)
    assert_problem(client.get(f"/api/v1/matches/{good_match}", headers=stranger_headers), 403, "forbidden")
    assert db_snapshot(session) == before
    # The partner still can accept: the refused requests changed nothing.
    assert client.post(f"/api/v1/matches/{good_match}/accept", headers=good_headers).json()["status"] == "connected"


def test_list_filters_paginates_and_validates(client, session, world):
    headers = auth(client, owner(session, world["sme"]))
    client.post("/api/v1/matches/recompute", headers=headers).raise_for_status()
    first = client.get("/api/v1/matches", params={"limit": 1}, headers=headers).json()
    second = client.get("/api/v1/matches", params={"limit": 1, "offset": 1}, headers=headers).json()
    assert first["total"] == second["total"] == 2
    assert first["items"][0]["score"] >= second["items"][0]["score"]
    assert client.get("/api/v1/matches", params={"status": "connected"}, headers=headers).json()["total"] == 0
    assert_problem(client.get("/api/v1/matches", params={"status": "married"}, headers=headers), 422)
    assert_problem(client.get("/api/v1/matches", params={"limit": 101}, headers=headers), 422)
    assert_problem(client.get("/api/v1/matches"), 401)
    # No profile yet: nothing to list, and nothing to recompute.
    newcomer = auth(client, make_user(session, Role.PARTNER))
    assert client.get("/api/v1/matches", headers=newcomer).json() == {"items": [], "total": 0, "limit": 20, "offset": 0}
    assert_problem(client.post("/api/v1/matches/recompute", headers=newcomer), 404)


def future(hours: int) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0).isoformat()


def test_meetings_between_connected_parties(client, session, world):
    match_id, sme_headers, partner_headers = connect(client, session, world)
    slots = [future(48), future(72)]
    proposed = client.post(
        f"/api/v1/matches/{match_id}/meetings",
        json={"slots": slots, "video_link": "https://meet.example.com/abb-savanna"},
        headers=sme_headers,
    )
    assert proposed.status_code == 201, proposed.text
    meeting = proposed.json()
    assert meeting["status"] == "proposed" and meeting["you_proposed"] is True and meeting["proposed_by"] == "sme"
    first = meeting["slots"][0]
    assert first["sme"]["time_zone"] == "Europe/Rome" and first["partner"]["time_zone"] == "Africa/Nairobi"
    utc = datetime.fromisoformat(first["utc"])
    assert datetime.fromisoformat(first["partner"]["local"]).utcoffset() == timedelta(hours=3)
    assert datetime.fromisoformat(first["partner"]["local"]) == utc == datetime.fromisoformat(first["sme"]["local"])

    before = db_snapshot(session)
    accept_path = f"/api/v1/meetings/{meeting['id']}/accept"
    assert_problem(client.post(accept_path, json={"slot": slots[0]}, headers=sme_headers), 403, "forbidden")
    assert_problem(client.post(accept_path, json={"slot": future(96)}, headers=partner_headers), 422)
    assert_problem(client.post(accept_path, json={"slot": "tomorrow"}, headers=partner_headers), 422)
    assert_problem(client.post("/api/v1/meetings/999999/accept", json={"slot": slots[0]}, headers=partner_headers), 404)
    assert db_snapshot(session) == before

    accepted = client.post(accept_path, json={"slot": slots[1]}, headers=partner_headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert datetime.fromisoformat(accepted.json()["starts"]["utc"]) == datetime.fromisoformat(slots[1])
    again = client.post(accept_path, json={"slot": slots[0]}, headers=partner_headers)
    assert_problem(again, 409, "invalid-transition")

    for headers, you_proposed in ((sme_headers, True), (partner_headers, False)):
        listed = client.get("/api/v1/meetings", headers=headers).json()
        assert listed["total"] == 1 and listed["items"][0]["you_proposed"] is you_proposed
    stranger = auth(client, owner(session, world["fair"]))
    assert client.get("/api/v1/meetings", headers=stranger).json()["total"] == 0
    assert_problem(client.post(accept_path, json={"slot": slots[1]}, headers=stranger), 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slots": ["PAST", "FUTURE"], "video_link": "https://meet.example.com/x"}, None),
        ({"slots": ["FUTURE", "+9000"], "video_link": "https://meet.example.com/x"}, None),  # over a year ahead
        ({"slots": ["FUTURE"], "video_link": "https://meet.example.com/x"}, "slots"),
        ({"slots": ["FUTURE"] * 2, "video_link": "https://meet.example.com/x"}, "slots"),
        ({"slots": [f"+{h}" for h in range(1, 7)], "video_link": "https://meet.example.com/x"}, "slots"),
        ({"slots": ["2030-01-01T10:00:00", "2030-01-02T10:00:00"], "video_link": "https://m.example.com"}, "slots"),
        ({"slots": ["FUTURE", "+2"], "video_link": "http://meet.example.com/x"}, "video_link"),
        ({"slots": ["FUTURE", "+2"], "video_link": "javascript:alert(1)"}, "video_link"),
        ({"slots": ["FUTURE", "+2"], "video_link": "https://example.com/" + "a" * 600}, "video_link"),
        ({"slots": ["FUTURE", "+2"], "video_link": "https://meet.example.com/x", "agenda": "x"}, "agenda"),
    ],
)
def test_bad_meeting_proposals_are_422_and_change_nothing(client, session, world, body, field):
    match_id, sme_headers, _ = connect(client, session, world)
    placeholders = {"PAST": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "FUTURE": future(24)}
    body = {
        **body,
        "slots": [placeholders.get(s) or (future(int(s[1:])) if s.startswith("+") else s) for s in body["slots"]],
    }
    before = db_snapshot(session)
    problem = assert_problem(client.post(f"/api/v1/matches/{match_id}/meetings", json=body, headers=sme_headers), 422)
    if field:
        assert any(e["field"].startswith(field) for e in problem["errors"]), problem
    assert db_snapshot(session) == before


def test_meetings_need_a_connected_match(client, session, world):
    headers = auth(client, owner(session, world["sme"]))
    client.post("/api/v1/matches/recompute", headers=headers).raise_for_status()
    match_id = client.get("/api/v1/matches", headers=headers).json()["items"][0]["id"]
    body = {"slots": [future(24), future(25)], "video_link": "https://meet.example.com/x"}
    before = db_snapshot(session)
    assert_problem(client.post(f"/api/v1/matches/{match_id}/meetings", json=body, headers=headers), 409)
    assert db_snapshot(session) == before


def test_a_meeting_time_that_has_passed_cannot_be_accepted(client, session, world):
    match_id, sme_headers, partner_headers = connect(client, session, world)
    past = datetime.now(UTC) - timedelta(hours=2)
    meeting = Meeting(
        match_id=match_id,
        proposed_by=Side.SME,
        slots=[past.isoformat(), (past + timedelta(hours=1)).isoformat()],
        video_link="https://meet.example.com/late",
        status=MeetingStatus.PROPOSED,
    )
    session.add(meeting)
    session.commit()
    before = db_snapshot(session)
    response = client.post(
        f"/api/v1/meetings/{meeting.id}/accept", json={"slot": past.isoformat()}, headers=partner_headers
    )
    assert_problem(response, 422)
    assert db_snapshot(session) == before
    # Closing the match also ends its open proposals' chances.
    client.post(f"/api/v1/matches/{match_id}/close", headers=sme_headers).raise_for_status()
    body = {"slots": [future(24), future(25)], "video_link": "https://meet.example.com/x"}
    assert_problem(client.post(f"/api/v1/matches/{match_id}/meetings", json=body, headers=partner_headers), 409)


def test_suggest_pair_introduces_a_pair_outside_the_top(session, world, settings):
    narrow = settings.model_copy(update={"matching_top_n": 1})
    sme_id = world["sme"].id
    assert len(service.recompute_for_profile(session, role=Role.SME, profile_id=sme_id, settings=narrow)) == 1
    introduced = service.suggest_pair(session, sme_id=sme_id, partner_id=world["poor"].id, settings=narrow)
    assert introduced is not None
    before = db_snapshot(session)
    assert service.suggest_pair(session, sme_id=sme_id, partner_id=world["poor"].id, settings=narrow) == introduced
    assert db_snapshot(session) == before
    items, total = service.list_matches_for_user(
        session, user=owner(session, world["poor"]), status=None, limit=10, offset=0
    )
    assert total == 1 and items[0].id == introduced and items[0].score < 20  # below the usual threshold
    assert service.suggest_pair(session, sme_id=sme_id, partner_id=999_999, settings=narrow) is None


def test_malformed_and_oversized_bodies(client, session, world):
    match_id, sme_headers, _ = connect(client, session, world)
    path = f"/api/v1/matches/{match_id}/meetings"
    before = db_snapshot(session)
    json_headers = {**sme_headers, "Content-Type": "application/json"}
    assert_problem(client.post(path, content=b'{"slots": [', headers=json_headers), 400, "malformed-json")
    assert_problem(client.post(path, content=b"[1, 2]", headers=json_headers), 422)
    huge = {"slots": [future(24), future(25)], "video_link": "https://meet.example.com/" + "x" * 2_000_000}
    assert_problem(client.post(path, json=huge, headers=sme_headers), 413, "payload-too-large")
    assert db_snapshot(session) == before


def test_partners_recompute_their_own_and_disabled_accounts_are_left_out(client, session, world, settings):
    partner_headers = auth(client, owner(session, world["good"]))
    assert client.post("/api/v1/matches/recompute", headers=partner_headers).json() == {"created": 1}
    mine = client.get("/api/v1/matches", headers=partner_headers).json()["items"]
    assert [m["counterpart"]["profile_id"] for m in mine] == [world["sme"].id]
    assert "they target Kenya, you are in Nairobi" in mine[0]["explanation"]

    owner(session, world["fair"]).is_active = False
    session.commit()
    created = service.recompute_for_profile(session, role=Role.SME, profile_id=world["sme"].id, settings=settings)
    assert created == []  # the good partner's pair exists already; the disabled one is not suggested
    sme_items, _ = service.list_matches_for_user(
        session, user=owner(session, world["sme"]), status=None, limit=10, offset=0
    )
    assert [m.partner_id for m in sme_items] == [world["good"].id]
