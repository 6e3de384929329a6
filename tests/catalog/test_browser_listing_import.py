"""A professional seller imports a catalogue in a real headless Chromium: uploads a
CSV and a zip of photos, waits for the suggestions, changes one row, accepts the rest
in bulk and confirms. The products exist with the chosen categories, and the changed
row is recorded as an anomaly (not kept). Tasks run eagerly (no worker process)."""

import pytest

from catalog.models import Product
from ml.models import ChoiceSource, Prediction
from ml.selectors.anomalies import prediction_linked_list
from rakuten.celery import app
from tests.browser import BROWSER_MARKS, WAIT_SECONDS
from tests.catalog.listing_import_data import csv_bytes, zip_bytes
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.images import jpeg_bytes

pytestmark = BROWSER_MARKS

ROWS = [
    ("PRO-1", "roman poche auteur", "chapitre edition roman", "livre.jpg"),
    ("PRO-2", "console manette jeu", "playstation nintendo jeu", "manette.jpg"),
    ("PRO-3", "piscine filtre pompe", "chlore bassin piscine", ""),
    ("PRO-4", "ab", "a title too short: reported, not listed", ""),
]


@pytest.fixture
def eager():
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


# Functions of the loaded import page, for one atomic read of its rows.
_LOADED = """
const rows = () => document.readyState === "complete"
    ? [...document.querySelectorAll(".import-rows tbody tr")] : [];
const decision = sku => (rows().find(r => r.dataset.sku === sku) || {dataset: {}})
    .dataset.decision;
const flagged = () => rows().filter(r => r.dataset.decision === "flagged")
    .map(r => r.dataset.sku).sort();
"""


def test_a_seller_imports_reviews_and_confirms_a_catalogue(
    browser,
    live_server,
    active_model,
    settings,
    training_categories,
    eager,
    screenshots,
    tmp_path,
):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    # An element read while its page reloads is stale: read it again.
    wait = WebDriverWait(
        browser, WAIT_SECONDS, ignored_exceptions=[StaleElementReferenceException]
    )
    # Above any probability: every row is flagged first, for the bulk accept to take.
    settings.LISTING_IMPORT_THRESHOLD = 1.01
    UserFactory(username="pro", role="seller")
    csv_file, zip_file = tmp_path / "catalogue.csv", tmp_path / "photos.zip"
    csv_file.write_bytes(csv_bytes(ROWS))
    zip_file.write_bytes(
        zip_bytes(
            {
                "livre.jpg": jpeg_bytes(color=(40, 90, 160), size=(64, 48)),
                "manette.jpg": jpeg_bytes(color=(10, 10, 10), size=(48, 48)),
            }
        )
    )

    # Given a seller logged in
    browser.get(f"{live_server.url}/accounts/login/")
    browser.find_element(By.NAME, "username").send_keys("pro")
    browser.find_element(By.NAME, "password").send_keys(DEFAULT_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.current_url == f"{live_server.url}/")

    # When she uploads her CSV and zip on the import page
    browser.find_element(By.LINK_TEXT, "Import").click()
    browser.find_element(By.ID, "id_csv").send_keys(str(csv_file))
    browser.find_element(By.ID, "id_zip").send_keys(str(zip_file))
    browser.find_element(By.ID, "upload-import").click()

    # Then the import's page shows its rows once the suggestions are in
    wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".import-status[data-status=ready]")
    )
    rows = browser.find_elements(By.CSS_SELECTOR, ".import-rows tbody tr")
    assert sorted(r.get_attribute("data-sku") for r in rows) == [
        "PRO-1",
        "PRO-2",
        "PRO-3",
    ]
    assert {r.get_attribute("data-decision") for r in rows} == {"flagged"}
    assert len(browser.find_elements(By.CSS_SELECTOR, ".import-thumb")) == 2
    wait.until(
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('.import-thumb')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
    )
    rejections = browser.find_element(By.CSS_SELECTOR, ".import-rejections summary")
    assert rejections.text == "1 row of the CSV was not imported"
    _screenshot(browser, screenshots / "listing-import-review.png")

    # When she changes PRO-2 to "Piscine"
    row = browser.find_element(By.CSS_SELECTOR, "tr[data-sku=PRO-2]")
    Select(
        row.find_element(By.CSS_SELECTOR, "select.row-category")
    ).select_by_visible_text("Piscine")
    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # (read by one script in the page: the page reloads, and an element found
    # before the reload belongs to a document that is gone)
    wait.until(
        lambda d: d.execute_script(_LOADED + "return decision('PRO-2') === 'changed'")
    )
    assert browser.execute_script(_LOADED + "return flagged()") == ["PRO-1", "PRO-3"]
    # and accepts every other suggestion at once, then confirms
    browser.find_element(By.ID, "accept-flagged").click()
    wait.until(
        lambda d: d.execute_script(
            _LOADED + "return decision('PRO-1') === 'accepted' && !flagged().length"
        )
    )
    browser.find_element(By.ID, "confirm-import").click()
    summary = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".import-summary"))

    # Then the products exist with the chosen categories
    assert "3 products listed, 0 updated, 0 rows not listed" in summary[0].text
    products = Product.objects.filter(seller__username="pro")
    assert dict(products.values_list("sku", "category__code")) == {
        "PRO-1": "9101",
        "PRO-2": "9103",
        "PRO-3": "9103",
    }
    assert products.get(sku="PRO-1").image_sha256 != ""
    # and the changed row is an anomaly (the seller did not keep the suggestion)
    predictions = Prediction.objects.filter(chosen_source=ChoiceSource.IMPORT)
    assert {p.product.sku: p.kept for p in predictions} == {
        "PRO-1": True,
        "PRO-2": False,
        "PRO-3": True,
    }
    assert {p.product.sku for p in prediction_linked_list() if p.is_anomaly} == {
        "PRO-2"
    }
    _screenshot(browser, screenshots / "listing-import-confirmed.png")


def _screenshot(browser, path) -> None:
    browser.save_screenshot(str(path))
