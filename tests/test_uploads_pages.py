"""'My documents' in the browser: upload with a multipart form, see it listed, download, refusals on the page."""

from __future__ import annotations

import pytest

from abb.accounts.models import Role
from tests.factories import db_snapshot, make_user
from tests.fixtures_uploads import PDF, PNG
from tests.test_web_pages import CSRF, sign_in


@pytest.fixture
def storage(app, local_storage):
    app.state.upload_storage = local_storage
    return local_storage


def test_upload_list_download_delete_in_the_browser(client, session, storage):
    user = make_user(session, Role.SME)
    assert sign_in(client, user.email).status_code == 303
    page = client.get("/documents")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    token = CSRF.search(page.text).group(1)

    uploaded = client.post(
        "/documents",
        data={"csrf_token": token, "kind": "logo"},
        files={"file": ("logo.png", PNG, "image/png")},
        follow_redirects=True,
    )
    assert uploaded.status_code == 200 and "logo.png" in uploaded.text and "1 document" in uploaded.text
    assert len(storage.keys()) == 1
    link = uploaded.text.split('href="/documents/')[1].split('"')[0]
    download = client.get(f"/documents/{link}")
    assert download.status_code == 200 and download.content == PNG

    document_id = link.split("/")[0]
    unconfirmed = client.post(
        f"/documents/{document_id}/delete", data={"csrf_token": token}, headers={"Accept": "text/html"}
    )
    assert unconfirmed.status_code == 422 and "Tick the box to confirm." in unconfirmed.text and storage.keys() != []
    deleted = client.post(
        f"/documents/{document_id}/delete", data={"csrf_token": token, "confirm": "yes"}, follow_redirects=True
    )
    assert "0 documents" in deleted.text and storage.keys() == []


def test_a_lying_upload_is_refused_on_the_page_and_stores_nothing(client, session, storage):
    user = make_user(session, Role.SME)
    assert sign_in(client, user.email).status_code == 303
    token = CSRF.search(client.get("/documents").text).group(1)
    before = db_snapshot(session)
    refused = client.post(
        "/documents",
        data={"csrf_token": token, "kind": "logo"},
        files={"file": ("logo.png", PDF, "image/png")},
    )
    assert refused.status_code == 415 and 'role="alert"' in refused.text
    assert db_snapshot(session) == before and storage.keys() == []


def test_someone_elses_document_is_not_downloadable_in_the_browser(client, session, storage):
    owner = make_user(session, Role.SME)
    assert sign_in(client, owner.email).status_code == 303
    token = CSRF.search(client.get("/documents").text).group(1)
    page = client.post(
        "/documents",
        data={"csrf_token": token, "kind": "other"},
        files={"file": ("a.pdf", PDF, "application/pdf")},
        follow_redirects=True,
    )
    link = page.text.split('href="/documents/')[1].split('"')[0]
    client.cookies.clear()
    other = make_user(session, Role.PARTNER)
    assert sign_in(client, other.email).status_code == 303
    assert client.get(f"/documents/{link}").status_code == 403
