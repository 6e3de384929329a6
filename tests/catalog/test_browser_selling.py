"""The seller flow in a real headless Chromium: sign up, sell a product with a photo,
see the suggestions appear, confirm, find it in "My products"; then the performance
page as staff. Screenshots go to ``var/screenshots/`` (git-ignored)."""

from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from catalog.models import Category, Product
from catalog.services.listings import listing_create
from ml.models import Prediction
from ml.services.predictions import prediction_create, prediction_input_sha256
from tests.browser import BROWSER_MARKS, WAIT_SECONDS
from tests.factories import DEFAULT_PASSWORD, TRAINING_WORDS, UserFactory
from tests.images import jpeg_bytes

pytestmark = BROWSER_MARKS


def test_seller_sells_with_suggestions_and_staff_see_performance(
    browser, live_server, active_model, training_categories, screenshots, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_SECONDS)
    _history_of_listings(active_model)

    # Given a visitor who signs up as a seller
    browser.get(f"{live_server.url}/accounts/signup/")
    _fill(browser, username="lea", email="lea@example.com")
    _fill(browser, password1="Blue-Harbour-71", password2="Blue-Harbour-71")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.current_url == f"{live_server.url}/")

    # When she fills the Sell page with a title, a description and a photo
    browser.find_element(By.LINK_TEXT, "Sell").click()
    photo = tmp_path / "livre.jpg"
    photo.write_bytes(jpeg_bytes(color=(40, 90, 160), size=(64, 48)))
    browser.find_element(By.ID, "id_photo").send_keys(str(photo))
    browser.find_element(By.ID, "id_title").send_keys("roman de poche auteur")
    browser.find_element(By.ID, "id_description").send_keys("un chapitre par jour")

    # Then three suggestions appear without a reload, the right one first and ticked
    # (those for the whole text: the metrics below leave out a prediction made for a
    # partly typed text)
    wait.until(
        lambda d: (
            _idle(d)
            and _suggestions(d)[:1] == ["Livres"]
            and _for_text(d, "roman de poche auteur", "un chapitre par jour")
        )
    )
    assert len(_suggestions(browser)) == 3
    first = browser.find_element(By.CSS_SELECTOR, "#suggestions input[type=radio]")
    assert first.is_selected()
    _screenshot(browser, screenshots / "sell-suggestions.png")

    # When she keeps the first suggestion and saves
    browser.find_element(By.ID, "save-listing").click()
    wait.until(lambda d: "/products/new/" not in d.current_url)

    # Then the product page shows the confirmed category and the suggestion kept
    category = browser.find_element(By.CSS_SELECTOR, ".product-category").text
    assert category == "Livres"
    product = Product.objects.get(seller__username="lea")
    assert product.category.code == "9101"
    assert product.image_sha256 != ""
    assert product.predictions.get().model_version == active_model

    # and "My products" lists it
    browser.find_element(By.LINK_TEXT, "My products").click()
    rows = browser.find_elements(By.CSS_SELECTOR, ".product-table tbody tr")
    assert [row.find_element(By.TAG_NAME, "a").text for row in rows] == [
        "roman de poche auteur"
    ]

    # When a staff member logs in and opens the performance page
    UserFactory(username="ops", role="staff")
    browser.delete_all_cookies()
    browser.get(f"{live_server.url}/accounts/login/")
    _fill(browser, username="ops", password=DEFAULT_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda d: d.current_url == f"{live_server.url}/")
    browser.get(f"{live_server.url}/staff/performance/?days=7")

    # Then the charts are drawn and the window's numbers are shown
    wait.until(lambda d: d.execute_script("return !!Chart.getChart('trend-f1')"))
    assert browser.find_element(By.ID, "metric-count").text == "13"
    _screenshot(browser, screenshots / "performance.png")


def _fill(browser, **values) -> None:
    from selenium.webdriver.common.by import By

    for name, value in values.items():
        browser.find_element(By.NAME, name).send_keys(value)


def _idle(browser) -> bool:
    return browser.execute_script(
        "return document.querySelectorAll('.htmx-request').length === 0"
    )


def _suggestions(browser) -> list[str]:
    """The suggestions' names, read in one script (the page's script replaces the
    list as suggestions arrive: an element found before that would be stale)."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('.suggestion-name'),"
        " e => e.innerText.trim())"
    )


def _for_text(browser, title: str, description: str) -> bool:
    """Are the suggestions on screen the model's answer for this text?"""
    pk = browser.execute_script(
        "var l = document.querySelector('#suggestions .suggestion-list');"
        "return l ? l.dataset.prediction : null;"
    )
    wanted = prediction_input_sha256(title=title, description=description)
    return bool(pk) and Prediction.objects.get(pk=pk).input_text_sha256 == wanted


def _screenshot(browser, path: Path) -> None:
    """The whole page, not only the window."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, max(900, height))
    browser.save_screenshot(str(path))
    browser.set_window_size(1280, 900)


def _history_of_listings(version) -> None:
    """Twelve listings confirmed over the last week after a suggestion of ``version``
    (some corrected by their seller), so the performance page has a trend."""
    seller = UserFactory(username="history")
    categories = {c.code: c for c in Category.objects.filter(code__in=TRAINING_WORDS)}
    codes = list(TRAINING_WORDS)
    now = timezone.now()
    for i in range(12):
        code = codes[i % 3]
        words = TRAINING_WORDS[code][1]
        prediction = prediction_create(
            title=f"{words[i % 5]} {words[(i + 2) % 5]}", user=seller
        )
        # Every fourth seller picks another category than the model's.
        real = codes[(i + 1) % 3] if i % 4 == 3 else code
        product = listing_create(
            seller=seller,
            title=f"{words[i % 5]} {words[(i + 2) % 5]}",
            category=categories[real],
            prediction_id=prediction.pk,
        )
        Product.objects.filter(pk=product.pk).update(
            confirmed_at=now - timedelta(days=i % 6, hours=1)
        )
