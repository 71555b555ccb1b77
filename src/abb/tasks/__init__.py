"""Background work on Celery: match recomputes and e-mail notifications.

Code enqueues with `abb.tasks.dispatch.enqueue(session, TASK_NAME, *args)` after its commit. With a broker
(ABB_REDIS_URL) the task goes to Redis and an `abb worker` runs it; without one (the embedded mode of
`make run`) the same task code runs in a small in-process thread pool.
"""

RECOMPUTE_PROFILE_MATCHES = "abb.tasks.matching.recompute_profile_matches"
NIGHTLY_RECOMPUTE = "abb.tasks.matching.nightly_recompute"
NOTIFY_NEW_MATCHES = "abb.tasks.notifications.notify_new_matches"
SEND_PASSWORD_RESET = "abb.tasks.notifications.send_password_reset"  # noqa: S105 - a task name
NOTIFY_MATCH_MESSAGE = "abb.tasks.notifications.notify_match_message"
