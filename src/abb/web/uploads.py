""" "My documents": upload a logo or certificate, list, download and delete them from the browser."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from abb.accounts.models import User
from abb.core.errors import AppError, Unprocessable
from abb.core.http import IdPath, SessionDep, SettingsDep
from abb.uploads import service
from abb.uploads.deps import StorageDep, download_response
from abb.uploads.models import DocumentKind
from abb.web.forms import require_confirmation
from abb.web.kit import CheckedForm, SignedInUser, render

router = APIRouter(include_in_schema=False)
KIND_LABELS = {
    DocumentKind.LOGO: "Company logo (PNG or JPEG)",
    DocumentKind.REGISTRATION_CERTIFICATE: "Registration certificate",
    DocumentKind.OTHER: "Other document",
}


def _page(
    request: Request,
    user: User,
    session: SessionDep,
    settings: SettingsDep,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    items, total = service.list_documents(session, owner_id=user.id, limit=100, offset=0)
    context = {
        "user": user,
        "documents": items,
        "total": total,
        "kinds": KIND_LABELS,
        "error": error,
        "max_mb": settings.upload_max_bytes // (1024 * 1024),
    }
    return render(request, "documents.html", context, status=status)


@router.get("/documents", response_class=HTMLResponse)
def documents_page(request: Request, user: SignedInUser, session: SessionDep, settings: SettingsDep) -> Response:
    return _page(request, user, session, settings)


@router.post("/documents", response_class=HTMLResponse)
def upload_submit(
    request: Request,
    user: SignedInUser,
    form: CheckedForm,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
) -> Response:
    file = form.get("file")
    try:
        if not isinstance(file, UploadFile) or not file.filename:
            raise Unprocessable("Choose a file to upload.")
        try:
            kind = DocumentKind(str(form.get("kind", "")))
        except ValueError as exc:
            raise Unprocessable("Choose what kind of document this is.") from exc
        service.upload(
            session,
            storage=storage,
            owner=user,
            kind=kind,
            data=file.file,
            file_name=file.filename,
            declared_type=file.content_type,
            max_bytes=settings.upload_max_bytes,
        )
    except AppError as exc:
        return _page(request, user, session, settings, error=exc.detail, status=exc.status)
    return RedirectResponse("/documents", status_code=303)


@router.get("/documents/{document_id}/download")
def download(
    request: Request, document_id: IdPath, user: SignedInUser, session: SessionDep, storage: StorageDep
) -> Response:
    document, chunks = service.open_document(session, storage=storage, document_id=document_id, user=user)
    return download_response(document, chunks)


@router.post("/documents/{document_id}/delete")
def delete_submit(
    document_id: IdPath, user: SignedInUser, form: CheckedForm, session: SessionDep, storage: StorageDep
) -> Response:
    service.get_document(session, document_id=document_id, user=user)  # access before the form's fields
    require_confirmation(form)
    service.delete_document(session, storage=storage, document_id=document_id, user=user)
    return RedirectResponse("/documents", status_code=303)
