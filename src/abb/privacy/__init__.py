"""GDPR: personal-data export, correction and erasure, consents, the personal-data access log, retention
(docs/compliance.md)."""
