"""Server-rendered pages (Jinja2), one module per area; they call the same domain services as the API.

`kit` is what every page module shares (templates, `render`, the CSRF-checked form, the signed-in user).
The domains never import this package.
"""
