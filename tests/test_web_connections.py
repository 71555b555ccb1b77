"""After connecting: contacts, messages (stored, listed, e-mailed), a calendar file for an agreed meeting, cancelling
and proposing new times; asking to meet from a profile, accepted or declined with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar
from sqlalchemy import select

from abb.accounts.models import Role
from abb.matching.models import Decision, Match, MatchMessage, MatchStatus, Meeting, MeetingStatus, Side
from abb.notifications.service import send_match_message_email
from tests.conftest import make_settings
from tests.factories import db_snapshot, make_partner, make_sme, make_user
from tests.fixtures_deals import connect
from tests.test_web_pages import CSRF, sign_in

HTML = {"Accept": "text/html"}


def _csrf(client, path: str) -> str:
    return CSRF.search(client.get(path).text).group(1)


def test_connected_sides_see_each_others_contact_person_only_once_connected(client, session):
    parties = connect(session, MatchStatus.ACCEPTED)
    sign_in(client, parties.sme_user.email)
    before = client.get(f"/matches/{parties.match.id}").text
    assert parties.partner_user.email not in before
    parties.match.status = MatchStatus.CONNECTED
    session.commit()
    after = client.get(f"/matches/{parties.match.id}").text
    assert f'href="mailto:{parties.partner_user.email}"' in after and parties.partner_user.full_name in after


def test_messages_are_stored_listed_and_emailed_to_the_other_side(client, session, smtp_server):
    mailbox, port = smtp_server
    parties = connect(session)
    parties.partner_user.locale = "it"
    session.commit()
    sign_in(client, parties.sme_user.email)
    token = _csrf(client, f"/matches/{parties.match.id}")
    sent = client.post(
        f"/matches/{parties.match.id}/messages",
        data={"csrf_token": token, "body": "Could we ship the first press in March?"},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"/matches/{parties.match.id}#messages"
    message = session.scalar(select(MatchMessage))
    assert message.author_side is Side.SME and message.author_id == parties.sme_user.id
    assert "Could we ship the first press in March?" in client.get(f"/matches/{parties.match.id}").text

    settings = make_settings(smtp_host="127.0.0.1", smtp_port=port)
    assert send_match_message_email(session, message_id=message.id, settings=settings) is True
    (mail,) = mailbox.messages
    assert mail["To"] == parties.partner_user.email
    assert mail["Subject"] == f"Un messaggio da {parties.sme.company_name}"
    assert "Could we ship the first press in March?" in mail.get_content()

    sign_in(client, parties.partner_user.email)
    assert "Could we ship the first press in March?" in client.get(f"/matches/{parties.match.id}").text


def test_empty_messages_and_messages_before_connecting_are_refused(client, session):
    parties = connect(session, MatchStatus.ACCEPTED)
    sign_in(client, parties.sme_user.email)
    token = _csrf(client, f"/matches/{parties.match.id}")
    before = db_snapshot(session)
    early = client.post(f"/matches/{parties.match.id}/messages", data={"csrf_token": token, "body": "Hi"}, headers=HTML)
    assert early.status_code == 409 and db_snapshot(session) == before
    parties.match.status = MatchStatus.CONNECTED
    session.commit()
    before = db_snapshot(session)
    empty = client.post(f"/matches/{parties.match.id}/messages", data={"csrf_token": token, "body": "  "}, headers=HTML)
    assert empty.status_code == 422 and "Write a message." in empty.text
    assert db_snapshot(session) == before


def _agreed_meeting(session, parties, starts: datetime) -> Meeting:
    meeting = Meeting(
        match_id=parties.match.id,
        proposed_by=Side.SME,
        slots=[starts.isoformat(), (starts + timedelta(hours=2)).isoformat()],
        video_link="https://meet.example.com/abc",
        status=MeetingStatus.ACCEPTED,
        starts_at=starts,
        accepted_at=datetime.now(UTC),
    )
    session.add(meeting)
    session.commit()
    return meeting


def test_an_agreed_meeting_downloads_as_a_calendar_file(client, session):
    parties = connect(session)
    starts = (datetime.now(UTC) + timedelta(days=5)).replace(hour=9, minute=30, second=0, microsecond=0)
    meeting = _agreed_meeting(session, parties, starts)
    sign_in(client, parties.partner_user.email)
    assert f'href="/meetings/{meeting.id}/calendar.ics"' in client.get(f"/matches/{parties.match.id}").text
    ics = client.get(f"/meetings/{meeting.id}/calendar.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert 'filename="meeting-' in ics.headers["content-disposition"]
    (event,) = Calendar.from_ical(ics.content).walk("VEVENT")
    assert event.decoded("dtstart") == starts and event.decoded("dtend") == starts + timedelta(hours=1)
    assert str(event["location"]) == "https://meet.example.com/abc"
    assert parties.sme.company_name in str(event["summary"])

    outsider = make_user(session, Role.SME)
    make_sme(session, owner=outsider)
    sign_in(client, outsider.email)
    assert client.get(f"/meetings/{meeting.id}/calendar.ics").status_code == 403


def test_cancel_a_meeting_with_a_reason_then_propose_new_times(client, session):
    parties = connect(session)
    starts = (datetime.now(UTC) + timedelta(days=5)).replace(hour=9, minute=0, second=0, microsecond=0)
    meeting = _agreed_meeting(session, parties, starts)
    sign_in(client, parties.sme_user.email)
    token = _csrf(client, f"/matches/{parties.match.id}")
    before = db_snapshot(session)
    unconfirmed = client.post(f"/meetings/{meeting.id}/cancel", data={"csrf_token": token}, headers=HTML)
    assert unconfirmed.status_code == 422 and "Tick the box to confirm." in unconfirmed.text
    assert db_snapshot(session) == before
    done = client.post(
        f"/meetings/{meeting.id}/cancel",
        data={"csrf_token": token, "confirm": "yes", "reason": "Our engineer is travelling"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    session.refresh(meeting)
    assert meeting.status is MeetingStatus.CANCELLED and meeting.cancel_reason == "Our engineer is travelling"
    page = client.get(f"/matches/{parties.match.id}").text
    assert "Reason: Our engineer is travelling" in page and "Propose a video call" in page
    assert client.get(f"/meetings/{meeting.id}/calendar.ics").status_code == 409
    again = client.post(f"/meetings/{meeting.id}/cancel", data={"csrf_token": token, "confirm": "yes"}, headers=HTML)
    assert again.status_code == 409


def test_request_a_meeting_from_a_profile_then_the_other_side_declines_with_a_reason(client, session):
    sme_user = make_user(session, Role.SME)
    sme = make_sme(session, owner=sme_user, company_name="Bianchi Macchine Srl")
    partner_user = make_user(session, Role.PARTNER)
    partner = make_partner(session, owner=partner_user, organization_name="Savanna Foods")
    sign_in(client, sme_user.email)
    profile = client.get(f"/partners/{partner.id}").text
    assert f'action="/partners/{partner.id}/request-meeting"' in profile
    token = CSRF.search(profile).group(1)
    asked = client.post(f"/partners/{partner.id}/request-meeting", data={"csrf_token": token}, follow_redirects=False)
    assert asked.status_code == 303
    match_id = int(asked.headers["location"].rsplit("/", 1)[1])
    match = session.get(Match, match_id)
    assert (match.sme_id, match.partner_id) == (sme.id, partner.id)
    assert match.requested_by is Side.SME and match.sme_decision is Decision.ACCEPTED
    assert match.status is MatchStatus.ACCEPTED

    sign_in(client, partner_user.email)
    assert "They have accepted: accept to connect." in client.get("/matches").text
    token = _csrf(client, f"/matches/{match_id}")
    client.post(
        f"/matches/{match_id}/decline",
        data={"csrf_token": token, "back": "detail", "reason": "We do not import machinery"},
    )
    session.refresh(match)
    assert match.status is MatchStatus.DECLINED and match.decline_reason == "We do not import machinery"
    sign_in(client, sme_user.email)
    assert "We do not import machinery" in client.get(f"/matches/{match_id}").text


def test_request_a_meeting_needs_an_own_profile_and_an_existing_company(client, session):
    sme_user = make_user(session, Role.SME)
    partner = make_partner(session)
    sign_in(client, sme_user.email)
    token = _csrf(client, "/dashboard")
    no_profile = client.post(f"/partners/{partner.id}/request-meeting", data={"csrf_token": token}, headers=HTML)
    assert no_profile.status_code == 409
    make_sme(session, owner=sme_user)
    before = db_snapshot(session)
    missing = client.post("/partners/424242/request-meeting", data={"csrf_token": token}, headers=HTML)
    assert missing.status_code == 404
    assert db_snapshot(session) == before


def test_request_a_meeting_with_a_company_of_ones_own_kind_is_refused_with_403(client, session):
    # SMEs ask partners and partners ask SMEs; a partner posting to another partner's form (or an SME to an
    # SME's) is refused like any role refusal: a page for a browser, problem+json for a machine; nothing stored.
    partner_user = make_user(session, Role.PARTNER)
    make_partner(session, owner=partner_user)
    other_partner = make_partner(session)
    sme_user = make_user(session, Role.SME)
    make_sme(session, owner=sme_user)
    other_sme = make_sme(session)
    for user, path in (
        (partner_user, f"/partners/{other_partner.id}/request-meeting"),
        (sme_user, f"/smes/{other_sme.id}/request-meeting"),
    ):
        sign_in(client, user.email)
        token = _csrf(client, "/dashboard")
        before = db_snapshot(session)
        page = client.post(path, data={"csrf_token": token}, headers=HTML, follow_redirects=False)
        assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
        assert "Not allowed" in page.text
        machine = client.post(
            path, data={"csrf_token": token}, headers={"Accept": "application/json"}, follow_redirects=False
        )
        assert machine.status_code == 403
        assert machine.headers["content-type"] == "application/problem+json"
        assert machine.json()["detail"] == "SMEs ask partners to meet, and partners ask SMEs."
        assert db_snapshot(session) == before


def test_a_stranger_is_refused_before_the_confirmation_box_is_looked_at(client, session):
    # Ownership comes before form validation: without `confirm` a stranger still gets 403, not 422.
    parties = connect(session)
    meeting = Meeting(
        match_id=parties.match.id,
        proposed_by=Side.PARTNER,
        slots=[(datetime.now(UTC) + timedelta(days=3)).isoformat()],
        video_link="https://meet.example/abc",
        status=MeetingStatus.PROPOSED,
    )
    session.add(meeting)
    session.commit()
    stranger = connect(session).sme_user
    sign_in(client, stranger.email)
    token = _csrf(client, "/dashboard")
    before = db_snapshot(session)
    for path in (f"/meetings/{meeting.id}/cancel", f"/matches/{parties.match.id}/close"):
        refused = client.post(path, data={"csrf_token": token}, headers=HTML)
        assert refused.status_code == 403, path
    assert db_snapshot(session) == before
    sign_in(client, parties.sme_user.email)
    token = _csrf(client, "/dashboard")
    signed_in = db_snapshot(session)
    unconfirmed = client.post(f"/meetings/{meeting.id}/cancel", data={"csrf_token": token}, headers=HTML)
    assert unconfirmed.status_code == 422  # the owner is asked to tick the box
    assert db_snapshot(session) == signed_in
