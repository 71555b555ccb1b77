from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import Response, StreamingResponse

from abb.accounts.deps import CurrentUser
from abb.core.http import IdPath, Page, PageDep, SessionDep, SettingsDep
from abb.core.openapi import problem_responses
from abb.uploads import service
from abb.uploads.deps import StorageDep, download_response
from abb.uploads.models import DocumentKind
from abb.uploads.schemas import DocumentOut

router = APIRouter(prefix="/api/v1", tags=["uploads"])
# Multipart framing (boundaries, part headers, the kind field) on top of the file itself.
MULTIPART_OVERHEAD = 64 * 1024
UPLOAD_PATHS = ("/api/v1/documents", "/documents")


def upload_body_limits(max_bytes: int) -> dict[str, int]:
    """Body size limits for the upload routes, for BodySizeLimitMiddleware."""
    return dict.fromkeys(UPLOAD_PATHS, max_bytes + MULTIPART_OVERHEAD)


@router.post(
    "/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentOut,
    responses=problem_responses(400, 401, 413, 415, 422, 503),
)
def upload_document(
    file: Annotated[UploadFile, File(description="PDF, PNG or JPEG")],
    kind: Annotated[DocumentKind, Form()],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
) -> DocumentOut:
    document = service.upload(
        session,
        storage=storage,
        owner=user,
        kind=kind,
        data=file.file,
        file_name=file.filename or "",
        declared_type=file.content_type,
        max_bytes=settings.upload_max_bytes,
    )
    return DocumentOut.model_validate(document)


@router.get("/documents", response_model=Page[DocumentOut], responses=problem_responses(401, 403, 422))
def list_documents(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    owner_id: Annotated[int | None, Query(ge=1, le=2_147_483_647, description="Admins: whose documents")] = None,
) -> Page[DocumentOut]:
    owner = service.documents_of(session, viewer=user, owner_id=owner_id)
    items, total = service.list_documents(session, owner_id=owner, limit=page.limit, offset=page.offset)
    return Page[DocumentOut](
        items=[DocumentOut.model_validate(d) for d in items], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/documents/{document_id}", response_model=DocumentOut, responses=problem_responses(401, 403, 404, 422))
def get_document(document_id: IdPath, user: CurrentUser, session: SessionDep) -> DocumentOut:
    return DocumentOut.model_validate(service.get_document(session, document_id=document_id, user=user))


@router.get(
    "/documents/{document_id}/content",
    response_class=StreamingResponse,
    responses={200: {"description": "The file's bytes"}, **problem_responses(401, 403, 404, 422, 503)},
)
def download_document(document_id: IdPath, user: CurrentUser, session: SessionDep, storage: StorageDep) -> Response:
    document, chunks = service.open_document(session, storage=storage, document_id=document_id, user=user)
    return download_response(document, chunks)


@router.delete(
    "/documents/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422, 503),
)
def delete_document(document_id: IdPath, user: CurrentUser, session: SessionDep, storage: StorageDep) -> Response:
    service.delete_document(session, storage=storage, document_id=document_id, user=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
