"""Documents through the API: upload, list, download, delete; every refusal is a problem and changes nothing."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from abb.accounts.models import Role
from abb.uploads.storage import GcsStorage
from tests.conftest import make_settings
from tests.factories import assert_problem, db_snapshot, make_user
from tests.fixtures_uploads import JPEG, PDF, PNG
from tests.harness.gcs import storage_client
from tests.harness.services import free_port

MAX_BYTES = 64 * 1024


@pytest.fixture
def settings():
    return make_settings(upload_max_bytes=MAX_BYTES)


@pytest.fixture
def storage(app, local_storage):
    app.state.upload_storage = local_storage
    return local_storage


def upload(client, headers, data=PDF, name="certificate.pdf", content_type="application/pdf", kind="other"):
    return client.post(
        "/api/v1/documents", headers=headers, data={"kind": kind}, files={"file": (name, data, content_type)}
    )


def test_upload_then_owner_downloads_on_each_storage(app, client, session, upload_storage, signed_in):
    app.state.upload_storage = upload_storage
    owner = make_user(session, Role.SME)
    headers = signed_in(owner)
    created = upload(client, headers, kind="registration_certificate")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["content_type"] == "application/pdf" and body["size_bytes"] == len(PDF)
    assert body["original_name"] == "certificate.pdf" and body["owner_id"] == owner.id
    assert len(upload_storage.keys()) == 1

    download = client.get(f"/api/v1/documents/{body['id']}/content", headers=headers)
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith('attachment; filename="certificate.pdf"')


def test_logo_upload_sniffs_png_and_jpeg(client, session, storage, signed_in):
    headers = signed_in(make_user(session, Role.PARTNER))
    png = upload(client, headers, PNG, "logo.png", "image/png", kind="logo")
    jpeg = upload(client, headers, JPEG, "logo.JPG", "application/octet-stream", kind="logo")
    assert png.status_code == 201 and png.json()["content_type"] == "image/png"
    assert jpeg.status_code == 201 and jpeg.json()["content_type"] == "image/jpeg"
    listed = client.get("/api/v1/documents", headers=headers).json()
    assert listed["total"] == 2 and {d["kind"] for d in listed["items"]} == {"logo"}


def test_admin_may_download_and_list_anyones_documents(client, session, storage, signed_in):
    owner = make_user(session, Role.SME)
    doc = upload(client, signed_in(owner)).json()
    admin = signed_in(make_user(session, Role.ADMIN))
    assert client.get(f"/api/v1/documents/{doc['id']}/content", headers=admin).content == PDF
    listed = client.get(f"/api/v1/documents?owner_id={owner.id}", headers=admin).json()
    assert [d["id"] for d in listed["items"]] == [doc["id"]]


def test_someone_elses_document_is_403_and_unknown_is_404(client, session, storage, signed_in):
    doc = upload(client, signed_in(make_user(session, Role.SME))).json()
    other = make_user(session, Role.SME)
    headers = signed_in(other)
    before = db_snapshot(session)
    assert_problem(client.get(f"/api/v1/documents/{doc['id']}/content", headers=headers), 403, "forbidden")
    assert_problem(client.get(f"/api/v1/documents/{doc['id']}", headers=headers), 403, "forbidden")
    assert_problem(client.delete(f"/api/v1/documents/{doc['id']}", headers=headers), 403, "forbidden")
    assert_problem(client.get(f"/api/v1/documents?owner_id={doc['owner_id']}", headers=headers), 403)
    assert_problem(client.get("/api/v1/documents/999999/content", headers=headers), 404, "not-found")
    assert db_snapshot(session) == before
    assert len(storage.keys()) == 1


def test_downloads_need_a_signed_in_user(client, session, storage, signed_in):
    doc = upload(client, signed_in(make_user(session, Role.SME))).json()
    assert_problem(client.get(f"/api/v1/documents/{doc['id']}/content"), 401)
    assert_problem(client.post("/api/v1/documents", data={"kind": "other"}, files={"file": ("a.pdf", PDF)}), 401)


@pytest.mark.parametrize(
    ("data", "name", "content_type", "kind"),
    [
        (PDF, "logo.png", "image/png", "logo"),  # declared PNG, really a PDF
        (PNG, "scan.pdf", "application/pdf", "other"),  # declared PDF, really a PNG
        (PDF, "certificate.png", "application/octet-stream", "other"),  # the extension lies
        (b"MZ\x90\x00" + b"\x00" * 300, "setup.pdf", "application/pdf", "other"),  # an executable
        (b"<html><script>alert(1)</script></html>", "page.pdf", "application/pdf", "other"),
        (PDF, "logo.pdf", "application/pdf", "logo"),  # a real PDF, but a logo must be an image
    ],
)
def test_an_upload_that_lies_about_its_type_is_415_and_stores_nothing(
    client, session, storage, data, name, content_type, kind, signed_in
):
    headers = signed_in(make_user(session, Role.SME))
    before = db_snapshot(session)
    assert_problem(upload(client, headers, data, name, content_type, kind), 415, "unsupported-media-type")
    assert db_snapshot(session) == before
    assert storage.keys() == []


@pytest.mark.parametrize(
    "size",
    [
        MAX_BYTES + 1,  # just past the limit: refused by the upload rule while reading
        MAX_BYTES * 4,  # far past it: refused by the body size limit before the body is read
    ],
)
def test_an_oversized_upload_is_413_and_stores_nothing(client, session, storage, size, signed_in):
    headers = signed_in(make_user(session, Role.SME))
    before = db_snapshot(session)
    assert_problem(upload(client, headers, PDF + b"0" * (size - len(PDF))), 413, "payload-too-large")
    assert db_snapshot(session) == before
    assert storage.keys() == []


def test_upload_exactly_at_the_limit_is_accepted(client, session, storage, signed_in):
    headers = signed_in(make_user(session, Role.SME))
    assert upload(client, headers, PDF + b"0" * (MAX_BYTES - len(PDF))).status_code == 201


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd", ".."])
def test_a_path_in_the_file_name_is_422_and_stores_nothing(client, session, storage, tmp_path, name, signed_in):
    headers = signed_in(make_user(session, Role.SME))
    before = db_snapshot(session)
    body = assert_problem(upload(client, headers, PDF, name), 422, "validation-error")
    assert body["errors"][0]["field"] == "file"
    assert db_snapshot(session) == before
    assert storage.keys() == []
    assert not list(tmp_path.rglob("passwd")) and not list(tmp_path.rglob("win.ini"))


@pytest.mark.parametrize(
    ("form", "files"),
    [
        ({"kind": "passport"}, {"file": ("a.pdf", PDF, "application/pdf")}),  # unknown kind
        ({}, {"file": ("a.pdf", PDF, "application/pdf")}),  # no kind
        ({"kind": "other"}, None),  # no file
        ({"kind": "other"}, {"file": ("empty.pdf", b"", "application/pdf")}),  # empty file
        ({"kind": "other"}, {"file": ("x" * 200 + ".pdf", PDF, "application/pdf")}),  # absurd name
    ],
)
def test_malformed_upload_forms_are_422(client, session, storage, form, files, signed_in):
    headers = signed_in(make_user(session, Role.SME))
    before = db_snapshot(session)
    kwargs = {"files": files} if files else {"files": {"note": (None, "no file here")}}
    assert_problem(client.post("/api/v1/documents", headers=headers, data=form, **kwargs), 422)
    assert db_snapshot(session) == before
    assert storage.keys() == []


def test_a_json_body_is_not_an_upload(client, session, storage, signed_in):
    headers = signed_in(make_user(session, Role.SME))
    assert_problem(client.post("/api/v1/documents", headers=headers, json={"kind": "other"}), 422)


def test_file_name_is_metadata_only_and_sent_back_safely(client, session, storage, signed_in):
    headers = signed_in(make_user(session, Role.SME))
    name = "Certificato d'iscrizione; camera è.pdf"
    doc = upload(client, headers, PDF, name).json()
    assert doc["original_name"] == name
    key = storage.keys()[0]
    assert name not in key and len(key) == 32
    disposition = client.get(f"/api/v1/documents/{doc['id']}/content", headers=headers).headers["content-disposition"]
    assert disposition == (
        f"attachment; filename=\"Certificato d_iscrizione_ camera _.pdf\"; filename*=UTF-8''{quote(name, safe='')}"
    )


def test_owner_deletes_a_document_and_its_file(client, session, storage, signed_in):
    headers = signed_in(make_user(session, Role.SME))
    doc = upload(client, headers).json()
    assert client.delete(f"/api/v1/documents/{doc['id']}", headers=headers).status_code == 204
    assert storage.keys() == []
    assert_problem(client.get(f"/api/v1/documents/{doc['id']}", headers=headers), 404)


def test_upload_routes_are_documented_with_their_problems(client):
    paths = client.get("/openapi.json").json()["paths"]
    post = paths["/api/v1/documents"]["post"]
    assert {"413", "415", "422"} <= set(post["responses"])
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert {"403", "404"} <= set(paths["/api/v1/documents/{document_id}/content"]["get"]["responses"])


def test_a_file_missing_from_storage_is_404_not_500(client, session, storage, signed_in):
    headers = signed_in(make_user(session, Role.SME))
    doc = upload(client, headers).json()
    storage.delete(storage.keys()[0])  # lost behind the application's back
    assert_problem(client.get(f"/api/v1/documents/{doc['id']}/content", headers=headers), 404, "not-found")


def test_unreachable_cloud_storage_is_503_and_stores_nothing(app, client, session, signed_in):
    nothing_listens = storage_client(f"http://127.0.0.1:{free_port()}")
    app.state.upload_storage = GcsStorage("abb-unreachable", client=nothing_listens, retry_seconds=0.5)
    headers = signed_in(make_user(session, Role.SME))
    before = db_snapshot(session)
    assert_problem(upload(client, headers), 503, "service-unavailable")
    assert db_snapshot(session) == before
