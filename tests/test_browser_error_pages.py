"""The lock-out and 403 pages in a real headless Chromium, with screenshots in
``var/screenshots/`` (git-ignored): styled, with the navigation."""

from axes.models import AccessAttempt

from tests.browser import BROWSER_MARKS, WAIT_SECONDS
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = BROWSER_MARKS


def _log_in(browser, url: str, username: str, password: str) -> None:
    """Post the log-in form and wait for the answer's page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{url}/accounts/login/")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    button = browser.find_element(By.CSS_SELECTOR, "form button[type=submit]")
    button.click()
    WebDriverWait(browser, WAIT_SECONDS).until(_gone(button))


def _gone(element):
    """The element left the page. Chromium sometimes reports a node of the old page as
    "Node with given id does not belong to the document" (a WebDriverException)
    instead of a stale reference: both mean the new page is there."""
    from selenium.common.exceptions import WebDriverException

    def check(_driver) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:  # StaleElementReferenceException included
            return True
        return False

    return check


def test_lock_out_and_403_pages(browser, live_server, screenshots):
    from selenium.webdriver.common.by import By

    UserFactory(username="lea", role="seller")

    # Given a seller who gets her password wrong five times
    for _ in range(5):
        _log_in(browser, live_server.url, "lea", "wrong-password")
    # When the right password comes
    _log_in(browser, live_server.url, "lea", DEFAULT_PASSWORD)
    # Then the styled lock-out page says when to try again, under the navigation
    message = browser.find_element(By.CSS_SELECTOR, ".error-message").text
    assert message.endswith("try again in 15 minutes.")
    assert browser.find_element(By.CSS_SELECTOR, "nav.navbar .navbar-brand").text == (
        "Rakuten categorisation"
    )
    assert browser.find_element(By.TAG_NAME, "h1").text == (
        "Too many failed log-in attempts"
    )
    browser.save_screenshot(str(screenshots / "lockout-429.png"))

    # Given another seller, logged in (the lock-out holds the attacked address as well
    # as the username, and this browser has only one address: its attempts are cleared)
    AccessAttempt.objects.all().delete()
    UserFactory(username="marc", role="seller")
    browser.delete_all_cookies()
    _log_in(browser, live_server.url, "marc", DEFAULT_PASSWORD)
    # When he opens a staff page
    browser.get(f"{live_server.url}/staff/categories/")
    # Then the styled 403 page, with his navigation
    assert browser.find_element(By.TAG_NAME, "h1").text == "Access denied"
    assert browser.find_element(By.CSS_SELECTOR, ".error-message").text == (
        "You do not have permission to see this page."
    )
    links = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "nav .nav-link")]
    assert "My products" in links
    browser.save_screenshot(str(screenshots / "forbidden-403.png"))
