"""The matching journey in the browser: ranked explained matches, accept on both sides, meet, all without JavaScript."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_time

from abb.accounts.models import Role, User
from abb.matching.models import Match, MatchStatus
from tests.factories import db_snapshot, make_partner, make_sme, make_user
from tests.test_web_pages import CSRF, sign_in


def signed_in(client, session, profile_or_user) -> str:
    """Sign in as the owner of a profile (or a user) in a fresh browser; return a CSRF token."""
    user = profile_or_user if isinstance(profile_or_user, User) else session.get(User, profile_or_user.owner_id)
    client.cookies.clear()
    assert sign_in(client, user.email).status_code == 303
    return CSRF.search(client.get("/dashboard").text).group(1)


def post(client, path: str, token: str, **data):
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_sme_and_partner_connect_and_meet_in_the_browser(client, session):
    sme = make_sme(session)
    partner = make_partner(session, organization_name="Savanna Foods", city="Nairobi")
    make_partner(session, organization_name="Rift Logistics", sectors=["logistics"], services="Freight forwarding")
    token = signed_in(client, session, sme)
    dashboard = client.get("/dashboard").text
    assert '<a href="/matches">Matches</a>' in dashboard and '<a href="/matches">Your matches</a>' in dashboard

    empty = client.get("/matches")
    assert empty.status_code == 200 and "0 matches" in empty.text
    assert post(client, "/matches/recompute", token).headers["location"] == "/matches"
    page = client.get("/matches").text
    names = re.findall(r'<h2><a href="/matches/\d+">([^<]+)</a></h2>', page)
    assert names == ["Savanna Foods", "Rift Logistics"]  # ranked
    assert "you target Kenya, they are in Nairobi" in page and "/100</strong>" in page
    match_id = int(re.search(r'<h2><a href="/matches/(\d+)">Savanna Foods', page).group(1))
    assert 'aria-label="Accept Savanna Foods"' in page

    accepted = post(client, f"/matches/{match_id}/accept", token)
    assert accepted.status_code == 303 and accepted.headers["location"] == "/matches"
    assert "You accepted; waiting for them." in client.get("/matches").text

    token = signed_in(client, session, partner)
    partner_page = client.get("/matches").text
    assert "They have accepted: accept to connect." in partner_page
    assert "they target Kenya, you are in Nairobi" in partner_page
    assert post(client, f"/matches/{match_id}/accept", token, back="detail").headers["location"] == (
        f"/matches/{match_id}"
    )
    detail = client.get(f"/matches/{match_id}").text
    assert 'id="match-status" data-state="connected">Connected</span>' in detail
    assert "How the score is made up" in detail and '<label for="slot_1">' in detail

    # The partner types Nairobi times (its company's time zone, UTC+3 all year); they are stored in UTC.
    nairobi = ZoneInfo("Africa/Nairobi")
    local_start = (datetime.now(nairobi) + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
    start = local_start.astimezone(UTC)
    assert "in your time zone (Africa/Nairobi)" in detail
    slots = {f"slot_{i + 1}": (local_start + timedelta(hours=2 * i)).strftime("%Y-%m-%dT%H:%M") for i in range(2)}
    proposed = post(client, f"/matches/{match_id}/meetings", token, video_link="https://meet.example.com/s", **slots)
    assert proposed.status_code == 303, proposed.text
    assert "Waiting for them to choose a time." in client.get(f"/matches/{match_id}").text

    token = signed_in(client, session, sme)
    detail = client.get(f"/matches/{match_id}").text
    assert 'id="match-status" data-state="connected">Connected</span>' in detail
    chosen = re.findall(r'name="slot" value="([^"]+)"', detail)
    assert [datetime.fromisoformat(v) for v in chosen] == [start, start + timedelta(hours=2)]
    meeting_id = int(re.search(r'action="/meetings/(\d+)/accept"', detail).group(1))
    assert post(client, f"/meetings/{meeting_id}/accept", token, slot=chosen[1]).status_code == 303
    meetings = client.get("/meetings").text
    # The SME reads the agreed time in Rome's time zone (its company's country), in its language's format.
    chosen_start = start + timedelta(hours=2)
    rome = chosen_start.astimezone(ZoneInfo("Europe/Rome"))
    assert "Times are in your time zone (Europe/Rome)." in meetings
    assert format_time(rome, "short", locale="en") in meetings
    assert "Savanna Foods" in meetings and '<span class="status">Agreed</span>' in meetings


def test_pages_refuse_strangers_forged_forms_and_bad_input(client, session):
    sme = make_sme(session)
    partner = make_partner(session)
    stranger = make_sme(session)
    token = signed_in(client, session, sme)
    post(client, "/matches/recompute", token)
    match = session.query(Match).filter_by(sme_id=sme.id, partner_id=partner.id).one()

    client.cookies.clear()
    assert client.get("/matches", follow_redirects=False).headers["location"] == "/login?next=/matches"
    assert client.get(f"/matches/{match.id}", follow_redirects=False).status_code == 303

    token = signed_in(client, session, stranger)
    before = db_snapshot(session)
    assert client.get(f"/matches/{match.id}", headers={"Accept": "text/html"}).status_code == 403
    assert post(client, f"/matches/{match.id}/accept", token).status_code == 403
    assert post(client, f"/matches/{match.id}/accept", "forged-token").status_code == 403
    assert client.get("/matches/99999999999").status_code == 422
    assert db_snapshot(session) == before

    # A proposal on a connected match with a past time or a plain-http link is shown back with the reason.
    token = signed_in(client, session, sme)
    post(client, f"/matches/{match.id}/accept", token)
    token = signed_in(client, session, partner)
    post(client, f"/matches/{match.id}/accept", token)
    session.expire_all()
    assert session.get(Match, match.id).status is MatchStatus.CONNECTED
    before = db_snapshot(session)
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    refused = post(client, f"/matches/{match.id}/meetings", token, slot_1=past, slot_2=later, video_link="https://m.ex")
    assert refused.status_code == 422 and "in the future" in refused.text and 'aria-invalid="true"' in refused.text
    refused = post(client, f"/matches/{match.id}/meetings", token, slot_1=later, slot_2=later, video_link="http://m.ex")
    assert refused.status_code == 422 and "https" in refused.text
    refused = post(client, f"/matches/{match.id}/meetings", token, slot_1="soon", video_link="https://m.ex")
    assert refused.status_code == 422
    assert db_snapshot(session) == before


def test_admins_have_no_matches_page_content(client, session):
    admin = make_user(session, Role.ADMIN)
    token = signed_in(client, session, admin)
    page = client.get("/matches")
    assert page.status_code == 200 and "Administrator accounts have no matches." in page.text
    assert "Your matches" not in client.get("/dashboard").text
    before = db_snapshot(session)
    assert post(client, "/matches/recompute", token).status_code == 403
    assert db_snapshot(session) == before
