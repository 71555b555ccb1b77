"""Cross-cutting building blocks: settings, database, errors, security, API conventions."""
