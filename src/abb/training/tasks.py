"""Background work for training: releasing unpaid seat holds that ran out.

Run every minute by Celery beat with a worker; without one (the embedded mode of `make run`) nothing is
scheduled, and the lazy release in `abb.training.service` (an expired hold never counts as a taken seat, and
the next change to the course expires it) keeps seats from getting stuck.
"""

from __future__ import annotations

from abb.core.config import get_settings
from abb.tasks import RELEASE_EXPIRED_SEAT_HOLDS
from abb.tasks.celery_app import celery_app
from abb.tasks.runtime import task_session
from abb.training import service


@celery_app.task(name=RELEASE_EXPIRED_SEAT_HOLDS)
def release_expired_seat_holds() -> int:
    """Expire every unpaid hold past its deadline and promote the waitlist; returns how many were released."""
    with task_session() as session:
        return service.release_expired_holds(session, settings=get_settings())
