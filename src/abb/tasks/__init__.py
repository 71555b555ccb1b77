"""Background work on Celery: the app (`celery_app`), `dispatch.enqueue` and what a task runs with (`runtime`).

The tasks themselves live beside their domain (`abb.matching.tasks`, `abb.notifications.tasks`,
`abb.deals.tasks`, `abb.training.tasks`). Code enqueues one by name, `enqueue(session, TASK_NAME, *args)`,
after its commit, so the code that queues a task never imports the task's module. With a broker
(ABB_REDIS_URL) the task goes to Redis and an `abb worker` runs it; without one (the embedded mode of
`make run`) the same task code runs in a small in-process thread pool.

The names below are a wire contract — queued messages, the beat schedule and the task metrics' labels carry
them — so they stay as they are when code moves.
"""

RECOMPUTE_PROFILE_MATCHES = "abb.tasks.matching.recompute_profile_matches"
NIGHTLY_RECOMPUTE = "abb.tasks.matching.nightly_recompute"
NOTIFY_NEW_MATCHES = "abb.tasks.notifications.notify_new_matches"
SEND_PASSWORD_RESET = "abb.tasks.notifications.send_password_reset"  # noqa: S105 - a task name
NOTIFY_MATCH_MESSAGE = "abb.tasks.notifications.notify_match_message"
RETRY_FAILED_PAYMENT = "abb.deals.tasks.retry_failed_payment"
NOTIFY_DEAL_FAILED = "abb.deals.tasks.notify_deal_failed"
RELEASE_EXPIRED_SEAT_HOLDS = "abb.training.tasks.release_expired_seat_holds"
