"""Backups, point-in-time restore, disaster-recovery drills and failover for self-hosted PostgreSQL.

Operations, not a business domain, so it lives under `abb.ops` beside the dashboards and the monitoring
stack: nothing here is imported by the web application. pgBackRest does the backups; this package renders
its configuration from `deploy/pgbackrest/`, runs it with clear one-line errors, and measures what a
restore or a failover achieves (`abb backup …`, `abb restore …`, `abb dr …`).
"""
