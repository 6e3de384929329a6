"""The Content-Security-Policy (django-csp): every page carries it, scripts and
stylesheets come from this origin only, and no page has an inline script, an
event-handler attribute or a <style> element (which the policy would refuse). The
pages are also opened in Chromium with the policy enforced
(tests/test_browser_csp.py)."""

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.test_production import admin_pages, argless_routes

pytestmark = pytest.mark.django_db

EXPECTED_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "style-src-attr": ["'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def policy_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (
            part.split() for part in header.split(";") if part.strip()
        )
    }


class InlineCode(HTMLParser):
    """Collects what the policy would refuse: inline scripts (a <script> without src
    that is not a JSON data block), event-handler attributes, <style> elements,
    ``javascript:`` URLs, and scripts or stylesheets from another origin."""

    def __init__(self):
        super().__init__()
        self.refused: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            src = attributes.get("src")
            if src is None and attributes.get("type") != "application/json":
                self.refused.append("inline <script>")
            elif src is not None and not src.startswith("/"):
                self.refused.append(f"script from {src}")
        if tag == "style":
            self.refused.append("<style>")
        href = attributes.get("href") or ""
        if tag == "link" and attributes.get("rel") == "stylesheet" and href[:1] != "/":
            self.refused.append(f"stylesheet from {href}")
        for name, value in attrs:
            if re.fullmatch(r"on[a-z]+", name):
                self.refused.append(f"{tag} {name}=")
            if name in {"href", "src", "action"} and (value or "").startswith(
                "javascript:"
            ):
                self.refused.append(f"{tag} {name}=javascript:")


def refused_in(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.refused


def test_every_page_carries_the_policy_and_nothing_it_refuses(client, seller):
    staff = UserFactory(username="csp-staff", role=User.Role.STAFF)
    root = UserFactory(username="csp-root", is_superuser=True, is_staff=True)
    ProductFactory(seller=seller, category=CategoryFactory())
    clients = {"anonymous": client}
    for name, user in (("seller", seller), ("staff", staff), ("root", root)):
        clients[name] = Client()
        clients[name].force_login(user)
    checked = 0
    for name, role_client in clients.items():
        pages = argless_routes() + ["/products/new/?propose=1", "/no/such/page/"]
        if name in {"staff", "root"}:
            pages += admin_pages()
        for page in pages:
            response = role_client.get(page)
            assert policy_of(response) == EXPECTED_POLICY, page
            if response.get("Content-Type", "").startswith("text/html"):
                assert (page, refused_in(response.content.decode())) == (page, [])
                checked += 1
    assert checked > 60


def test_the_api_docs_load_their_script_from_the_same_view(client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    assert refused_in(page.content.decode()) == []
    script = re.search(r'<script src="(/api/v1/docs/\?[^"]*script=[^"]*)"', page.text)
    assert script is not None
    init = client.get(script[1].replace("&amp;", "&"))
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in init.content.decode()


def test_the_performance_page_s_select_submits_without_inline_code(
    client_logged_in_as, staff_user
):
    html = client_logged_in_as(staff_user).get("/staff/performance/").content.decode()
    assert 'id="days" data-autosubmit' in html
    assert "onchange" not in html
