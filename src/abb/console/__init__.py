"""The operator's security console over HTTP (admins): security events, lockouts, the audit chain's
verification, incidents. The security package below it knows nothing of accounts; this one does."""
