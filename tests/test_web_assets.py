"""What a browser loads besides pages: API docs that work offline, the favicon, the stylesheet's phone rules."""

from __future__ import annotations

import re

import pytest

from abb.web.kit import STATIC_DIR

EXTERNAL = re.compile(r"""(?:src|href)=["']?(https?:)?//""")


@pytest.mark.parametrize(
    ("path", "assets"), [("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")), ("/redoc", ("redoc.standalone.js",))]
)
def test_api_docs_load_everything_from_this_server(client, path, assets):
    page = client.get(path)
    assert page.status_code == 200
    assert not EXTERNAL.search(page.text), "the docs page loads something from another site"
    assert "fonts.googleapis" not in page.text
    for asset in assets:
        url = re.search(rf"""['"](/[^'"]*{re.escape(asset)})['"]""", page.text).group(1)
        served = client.get(url)
        assert served.status_code == 200 and len(served.content) > 10_000, url


def test_the_favicon_is_served_where_browsers_look_and_linked_from_pages(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert client.get("/static/favicon.svg").status_code == 200
    page = client.get("/login").text
    assert 'rel="icon" href="/favicon.ico"' in page and 'href="/static/favicon.svg"' in page


def test_the_stylesheet_keeps_phones_from_scrolling_sideways():
    css = (STATIC_DIR / "style.css").read_text()
    phone = css[css.index("@media (max-width: 40rem)") :]
    # Tables become stacked cards with their column names; the navigation is one line scrolling in its own box.
    assert "table.stack" in phone and "attr(data-label)" in phone
    assert ".main-nav" in phone and "overflow-x: auto" in phone
    assert "overflow-wrap: anywhere" in css  # long words and links wrap instead of widening the page
    assert re.search(r"a\s*\{[^}]*color:\s*var\(--link\)", css)  # link colours from the palette
