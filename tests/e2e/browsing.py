"""One person in the browser: navigates and submits forms, and checks every page it lands on.

Elements are found by what does not change with the wording or the language of the pages: form actions,
field names, `data-*` attributes and ARIA roles. Every page visited is checked with axe-core (no serious or
critical violation) and, at the phone viewport, for sideways scrolling.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

BLOCKING_IMPACTS = {"serious", "critical"}
_AXE = Axe()

# The elements sticking out past the right edge of the viewport, for the failure message.
_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && box.width > 0)
      wide.push(el.tagName.toLowerCase() + (el.className ? "." + el.className : "") + " " + Math.round(box.right));
  }
  return {scrollWidth: document.documentElement.scrollWidth, width: width, wide: wide.slice(0, 8)};
}"""


class Visitor:
    def __init__(self, page: Any, *, phone: bool, language: str) -> None:
        self.page = page
        self.phone = phone
        self.language = language  # the site's language for this visitor: "en" or "it"
        self.pages_checked: list[str] = []

    # --- navigation -------------------------------------------------------------------------------
    def goto(self, path: str, *, status: int = 200) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status == status, (path, response and response.status)
        self.check_page()

    def reload(self) -> None:
        self.page.reload()
        self.check_page()

    def submit(self, form: str, fields: dict[str, str | list[str]] | None = None, *, status: int = 200) -> None:
        """Fill the form matched by the CSS selector `form` (field by `name`) and submit it; the page it leads
        to must answer `status` (after redirects)."""
        locator = self.page.locator(form)
        for name, value in (fields or {}).items():
            self._fill(locator, name, value)
        with self.page.expect_navigation() as navigation:
            locator.locator('[type="submit"]').first.click()
        response = navigation.value
        assert response is not None and response.status == status, (form, response and response.status)
        self.check_page()

    def _fill(self, form: Any, name: str, value: str | list[str]) -> None:
        field = form.locator(f'[name="{name}"]')
        kind = (field.first.get_attribute("type") or "").lower()
        tag = field.first.evaluate("el => el.tagName").lower()
        if isinstance(value, list) or kind == "checkbox":
            for box in field.all():
                wanted = box.get_attribute("value") in (value if isinstance(value, list) else [value])
                box.set_checked(wanted)
        elif kind == "radio":
            form.locator(f'[name="{name}"][value="{value}"]').check()
        elif tag == "select":
            field.select_option(value)
        else:
            field.fill(value)

    def sign_in(self, email: str, password: str) -> None:
        self.goto("/login")
        self.submit('form[action="/login"]', {"email": email, "password": password})

    # --- reading ----------------------------------------------------------------------------------
    @property
    def page_name(self) -> str:
        return str(self.page.locator("body").get_attribute("data-page"))

    def attribute(self, selector: str, name: str) -> str | None:
        value = self.page.locator(selector).first.get_attribute(name)
        return None if value is None else str(value)

    # --- checks on every page ---------------------------------------------------------------------
    def check_page(self) -> None:
        self.page.wait_for_load_state("load")
        name = self.page_name
        self.pages_checked.append(name)
        if self.phone:
            overflow = self.page.evaluate(_OVERFLOW)
            assert overflow["scrollWidth"] <= overflow["width"], (
                f"page {name!r} scrolls sideways on a phone: {overflow}"
            )
        results = _AXE.run(self.page)
        blocking = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[node['target'] for node in v['nodes'][:3]]}"
            for v in results.response["violations"]
            if v.get("impact") in BLOCKING_IMPACTS
        ]
        assert not blocking, f"accessibility violations on page {name!r} ({self.page.url}):\n" + "\n".join(blocking)
