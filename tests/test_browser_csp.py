"""The pages under the Content-Security-Policy in a real headless Chromium: the
browser refuses nothing on them (no "Refused to ..." in its console), and what their
scripts do still happens (htmx, Chart.js, Swagger UI, the admin's periodic task
form). A control checks that the console does report a refused inline script."""

import pytest
from django.conf import settings
from django.test import Client

from tests.browser import BROWSER_MARKS, CHROMEDRIVER, CHROMIUM, FLAGS, WAIT_SECONDS
from tests.factories import UserFactory

pytestmark = BROWSER_MARKS


@pytest.fixture
def logged_browser():
    """Chromium whose console messages can be read (``get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def log_in(browser, base_url: str, user) -> None:
    client = Client()
    client.force_login(user)
    browser.get(f"{base_url}/accounts/login/")
    browser.add_cookie(
        {
            "name": settings.SESSION_COOKIE_NAME,
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "path": "/",
        }
    )


def refusals(browser) -> list[str]:
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
        or "Refused to" in entry["message"]
    ]


def wait_for(browser, script: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: driver.execute_script(script)
    )


def test_pages_work_under_the_policy(logged_browser, live_server, active_model):
    browser = logged_browser
    staff = UserFactory(
        username="csp-root", role="staff", is_superuser=True, is_staff=True
    )
    # A control: the console reports what the policy refuses
    browser.get(f"{live_server.url}/")
    browser.execute_script(
        "var s = document.createElement('script'); s.textContent = 'window.x = 1';"
        "document.body.appendChild(s);"
    )
    refused = refusals(browser)
    assert len(refused) == 1 and "inline script" in refused[0]
    assert browser.execute_script("return window.x") is None

    log_in(browser, live_server.url, staff)
    checks = {
        "/": "return typeof htmx !== 'undefined' && typeof bootstrap !== 'undefined'",
        "/products/new/": "return typeof htmx !== 'undefined'",
        "/staff/performance/": "return !!Chart.getChart('trend-f1')",
        "/staff/training/": "return typeof htmx !== 'undefined'",
        "/api/v1/docs/": "return !!document.querySelector('.swagger-ui .info .title')",
        "/admin/": "return !!document.querySelector('#content-main')",
        # (its script, moved out of the template, explains the chosen crontab)
        "/admin/django_celery_beat/periodictask/add/": (
            "var $ = django.jQuery, select = $('#id_crontab');"
            "select.val(select.find('option[value!=\"\"]').first().val());"
            "$('.field-crontab').trigger('change');"
            "return $('.field-crontab .help').text().indexOf('Translation: ') >= 0"
        ),
    }
    seen = {}
    for page, script in checks.items():
        browser.get(f"{live_server.url}{page}")
        seen[page] = (bool(wait_for(browser, script)), refusals(browser))
    assert seen == dict.fromkeys(checks, (True, []))
