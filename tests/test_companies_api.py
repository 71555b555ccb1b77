"""Company profiles through the API: owners create and edit, everyone signed in lists and filters."""

from __future__ import annotations

import pytest

from abb.accounts.models import Role
from tests.factories import (
    assert_problem,
    auth,
    db_snapshot,
    make_partner,
    make_sme,
    make_user,
    partner_payload,
    sme_payload,
)


def test_sme_creates_and_edits_own_profile(client, session):
    owner = make_user(session, Role.SME)
    headers = auth(client, owner)
    payload = sme_payload(vat_number="01234567890", sectors=["agri_food", "agri_food", "machinery"])
    created = client.post("/api/v1/smes", json=payload, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["vat_number"] == "IT01234567890"  # canonical form
    assert body["sectors"] == ["agri_food", "machinery"]  # duplicates dropped
    edited = client.patch(f"/api/v1/smes/{body['id']}", json={"city": "Modena", "website": None}, headers=headers)
    assert edited.status_code == 200
    assert edited.json()["city"] == "Modena" and edited.json()["website"] is None
    assert edited.json()["products"] == payload["products"]  # untouched fields keep their values
    mine = client.get("/api/v1/me/profile", headers=headers)
    assert mine.json()["id"] == body["id"]


def test_partner_creates_profile(client, session):
    owner = make_user(session, Role.PARTNER)
    created = client.post(
        "/api/v1/partners", json=partner_payload(city="Arusha", country="TZ"), headers=auth(client, owner)
    )
    assert created.status_code == 201, created.text
    assert created.json()["country"] == "TZ"


def test_profile_of_the_wrong_kind_or_twice_is_refused(client, session):
    sme_user = make_user(session, Role.SME)
    headers = auth(client, sme_user)
    before = db_snapshot(session)
    assert_problem(client.post("/api/v1/partners", json=partner_payload(), headers=headers), 403)
    assert db_snapshot(session) == before
    assert client.post("/api/v1/smes", json=sme_payload(), headers=headers).status_code == 201
    before = db_snapshot(session)
    assert_problem(client.post("/api/v1/smes", json=sme_payload(), headers=headers), 409)
    assert db_snapshot(session) == before


def test_duplicate_vat_number_is_409(client, session):
    make_sme(session, vat_number="IT11111111111")
    other = make_user(session, Role.SME)
    headers = auth(client, other)
    before = db_snapshot(session)
    assert_problem(client.post("/api/v1/smes", json=sme_payload(vat_number="11111111111"), headers=headers), 409)
    assert db_snapshot(session) == before


def test_editing_someone_elses_profile_is_403_and_changes_nothing(client, session):
    profile = make_partner(session)
    headers = auth(client, make_user(session, Role.PARTNER))
    before = db_snapshot(session)
    response = client.patch(
        f"/api/v1/partners/{profile.id}", json={"organization_name": "Hijacked Ltd"}, headers=headers
    )
    assert_problem(response, 403, "forbidden")
    assert db_snapshot(session) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sectors": ["space_tourism"]}, "sectors"),
        ({"sectors": []}, "sectors"),
        ({"target_countries": ["NG"]}, "target_countries"),
        ({"vat_number": "123"}, "vat_number"),
        ({"company_size": "huge"}, "company_size"),
        ({"languages": ["klingon"]}, "languages"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"company_name": "x" * 161}, "company_name"),
        ({"owner_id": 1}, "owner_id"),
    ],
)
def test_invalid_sme_fields_are_named(client, session, changes, field):
    headers = auth(client, make_user(session, Role.SME))
    before = db_snapshot(session)
    body = assert_problem(client.post("/api/v1/smes", json=sme_payload(**changes), headers=headers), 422)
    assert any(e["field"].startswith(field) for e in body["errors"]), body
    assert db_snapshot(session) == before


def test_patch_rejects_nulls_and_bad_values(client, session):
    owner = make_user(session, Role.PARTNER)
    profile = make_partner(session, owner=owner)
    headers = auth(client, owner)
    before = db_snapshot(session)
    for body in ({"organization_name": None}, {"years_active": -1}, {"years_active": 10**12}, {"country": "IT"}):
        assert_problem(client.patch(f"/api/v1/partners/{profile.id}", json=body, headers=headers), 422)
    assert_problem(client.patch("/api/v1/partners/99999999999", json={}, headers=headers), 422)
    assert_problem(client.patch("/api/v1/partners/424242", json={"city": "Moshi"}, headers=headers), 404)
    assert db_snapshot(session) == before


def test_directory_filters_and_paginates(client, session):
    make_partner(
        session,
        country="KE",
        city="Nairobi",
        sectors=["coffee_tea"],
        languages=["en", "sw"],
        services="Coffee roasting and cafe chain supply",
    )
    make_partner(
        session,
        country="ET",
        city="Addis Ababa",
        sectors=["coffee_tea", "logistics"],
        languages=["am"],
        services="Coffee export",
    )
    make_partner(
        session,
        country="TZ",
        city="Arusha",
        sectors=["tourism"],
        languages=["sw"],
        services="Safari lodges 100% booked",
    )
    headers = auth(client, make_user(session, Role.SME))

    def names(**params):
        response = client.get("/api/v1/partners", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    assert {p["city"] for p in names(sector="coffee_tea")["items"]} == {"Nairobi", "Addis Ababa"}
    assert [p["city"] for p in names(country="ET")["items"]] == ["Addis Ababa"]
    assert [p["city"] for p in names(language="sw", sector="tourism")["items"]] == ["Arusha"]
    assert [p["city"] for p in names(q="ROASTING")["items"]] == ["Nairobi"]
    assert [p["city"] for p in names(q="100%")["items"]] == ["Arusha"]  # % is literal, not a wildcard
    assert names(q="_")["total"] == 0
    first = names(limit=2, offset=0)
    second = names(limit=2, offset=2)
    assert first["total"] == 3 and len(first["items"]) == 2 and len(second["items"]) == 1
    assert {p["id"] for p in first["items"]}.isdisjoint({p["id"] for p in second["items"]})
    assert_problem(client.get("/api/v1/partners", params={"sector": "nope"}, headers=headers), 422)
    assert_problem(client.get("/api/v1/partners", params={"limit": 1000}, headers=headers), 422)
    assert_problem(client.get("/api/v1/partners"), 401)


def test_sme_directory_filters_by_target_country(client, session):
    make_sme(session, target_countries=["KE", "TZ"], city="Prato")
    make_sme(session, target_countries=["ET"], city="Bari")
    headers = auth(client, make_user(session, Role.PARTNER))
    result = client.get("/api/v1/smes", params={"country": "TZ"}, headers=headers).json()
    assert [p["city"] for p in result["items"]] == ["Prato"]


def test_unknown_route_and_method_are_problems(client, session):
    assert_problem(client.get("/api/v1/nothing-here"), 404)
    assert_problem(client.delete("/api/v1/partners"), 405)


def test_openapi_declares_problem_schema(client):
    spec = client.get("/openapi.json").json()
    assert "Problem" in spec["components"]["schemas"]
    responses = spec["paths"]["/api/v1/smes/{profile_id}"]["patch"]["responses"]
    assert {"403", "404", "409", "422"} <= set(responses)
    assert "application/problem+json" in responses["403"]["content"]


def test_openapi_says_what_every_layer_can_answer(client):
    """Rate limits (429) and shedding (503) apply to every operation; an optional body (the admin's enable with
    its reason) still answers 400 to bytes that are not JSON."""
    spec = client.get("/openapi.json").json()
    operations = [op for item in spec["paths"].values() for op in item.values()]
    readers = [op for op in operations if "requestBody" in op]
    assert readers, "no operation in the OpenAPI document reads a body"
    for operation in operations:
        expected = {"400", "413", "429", "503"} if operation in readers else {"429", "503"}
        assert expected <= set(operation["responses"]), operation["operationId"]
    enable = spec["paths"]["/api/v1/admin/users/{user_id}/enable"]["post"]["responses"]
    assert "application/problem+json" in enable["400"]["content"]
