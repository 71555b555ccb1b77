"""The nightly retention run and audit chain verification (Celery beat; `abb worker --beat`)."""

from __future__ import annotations

import logging

from abb.core.config import get_settings
from abb.privacy import service
from abb.security.audit import verify_and_record
from abb.tasks.celery_app import celery_app
from abb.tasks.runtime import task_session
from abb.uploads.storage import storage_from_settings

log = logging.getLogger("abb.tasks")
APPLY_RETENTION = "abb.privacy.apply_retention"
VERIFY_AUDIT_CHAIN = "abb.security.verify_audit_chain"


@celery_app.task(name=APPLY_RETENTION)
def apply_retention() -> dict[str, int]:
    settings = get_settings()
    with task_session() as session:
        counts = service.apply_retention(session, settings=settings, storage=storage_from_settings(settings))
    log.info("retention applied", extra={"abb.retention": counts})
    return counts


@celery_app.task(name=VERIFY_AUDIT_CHAIN)
def verify_audit_chain() -> bool:
    with task_session() as session:
        return verify_and_record(session).ok
