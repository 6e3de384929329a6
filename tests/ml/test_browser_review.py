"""The review queue in a real headless Chromium, as staff: accept one product's first
suggestion from the keyboard, correct another (its second suggestion), tick the rest
and bulk-accept them. Screenshots go to ``var/screenshots/``."""

from pathlib import Path

from catalog.models import Product
from ml.models import BatchJob, BatchResult, ReviewItem
from ml.services.review_queue import review_items_from_results
from tests.browser import BROWSER_MARKS, WAIT_SECONDS
from tests.factories import (
    DEFAULT_PASSWORD,
    CategoryFactory,
    ModelVersionFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = BROWSER_MARKS


def _queue() -> list[ReviewItem]:
    """Four waiting products, first suggestion X (0.2, 0.4, 0.5, 0.6), then Y."""
    CategoryFactory(code="X", name="Ixe")
    CategoryFactory(code="Y", name="Igrec")
    job = BatchJob.objects.create(
        scope="all", model_version=ModelVersionFactory(), apply_threshold=0.9
    )
    results = []
    for n, p in enumerate((0.2, 0.4, 0.5, 0.6)):
        product = ProductFactory(category=None, title=f"Objet {n}")
        results.append(
            BatchResult.objects.create(
                job=job,
                item_id=product.pk,
                product=product,
                predicted_code="X",
                probability=p,
                top_k=[
                    {"code": "X", "probability": p},
                    {"code": "Y", "probability": round(1 - p, 2)},
                ],
            )
        )
    review_items_from_results(job=job, results=results)
    return list(ReviewItem.objects.order_by("probability"))


def test_staff_accept_correct_and_bulk_accept(browser, live_server, screenshots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_SECONDS)
    items = _queue()
    UserFactory(username="ops", role="staff")
    browser.get(f"{live_server.url}/accounts/login/")
    browser.find_element(By.NAME, "username").send_keys("ops")
    browser.find_element(By.NAME, "password").send_keys(DEFAULT_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.current_url == f"{live_server.url}/")

    # Given the review page, least certain first, the first product focused
    browser.get(f"{live_server.url}/staff/review/")
    titles = _titles(browser)
    assert titles == ["Objet 0", "Objet 1", "Objet 2", "Objet 3"]
    _screenshot(browser, screenshots / "review-queue.png")
    # When staff press Enter on it: its first suggestion is accepted
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait.until(lambda d: _titles(d) == ["Objet 1", "Objet 2", "Objet 3"])
    # When they press 2 on the next one: its second suggestion (Y) is chosen
    browser.switch_to.active_element.send_keys("2")
    wait.until(lambda d: _titles(d) == ["Objet 2", "Objet 3"])
    # When they tick the two left and accept the ticked suggestions
    for tick in browser.find_elements(By.CSS_SELECTOR, ".review-tick"):
        tick.click()
    browser.find_element(By.ID, "bulk-accept-selected").click()
    wait.until(lambda d: d.find_elements(By.ID, "review-empty"))
    _screenshot(browser, screenshots / "review-queue-done.png")

    # Then every product is confirmed in the chosen category
    decided = {
        i.product.title: (i.status, i.chosen_category.code, i.decided_by.username)
        for i in ReviewItem.objects.select_related("product", "chosen_category")
    }
    assert decided == {
        "Objet 0": ("accepted", "X", "ops"),
        "Objet 1": ("corrected", "Y", "ops"),
        "Objet 2": ("accepted", "X", "ops"),
        "Objet 3": ("accepted", "X", "ops"),
    }
    confirmed = Product.objects.filter(pk__in=[i.product_id for i in items])
    assert all(p.confirmed_at is not None for p in confirmed)


def _titles(browser) -> list[str]:
    """The queue's titles, read in one script: elements found before the page
    reloads belong to a gone document (a stale element reference)."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('.product-title'),"
        " e => e.innerText.trim())"
    )


def _screenshot(browser, path: Path) -> None:
    browser.save_screenshot(str(path))
