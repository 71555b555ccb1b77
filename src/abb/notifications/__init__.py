"""E-mail notifications: composition (Jinja2 templates), sending (SMTP) and the record of what was sent."""
