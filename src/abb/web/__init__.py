"""Server-rendered pages (Jinja2): they call the same domain services as the API."""
