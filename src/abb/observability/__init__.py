"""Observability: Prometheus metrics, structured logs, tracing and health checks."""
