"""Security monitoring: the audit chain of security events, brute-force and rate limits, injection and
anomaly detection, security headers, incidents (docs/security.md)."""
