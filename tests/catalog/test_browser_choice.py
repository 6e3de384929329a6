"""The seller's choice on the Sell page, in a real headless Chromium, with the real
tiny trained model: whatever the order of typing, choosing and editing, and however
late the suggestions arrive, the saved category is exactly the one the seller chose,
and "kept" is true only when they kept the model's first suggestion for the text
they saved. A rejected photo leaves the text suggestions on screen. Screenshots go
to ``var/screenshots/`` (git-ignored)."""

import pytest
from django.conf import settings
from django.test import Client

from catalog.models import Category, Product
from ml.models import Prediction
from ml.services.predictions import prediction_input_sha256
from tests.browser import BROWSER_MARKS, WAIT_SECONDS
from tests.catalog.test_browser_selling import _screenshot
from tests.factories import UserFactory
from tests.images import jpeg_bytes

pytestmark = BROWSER_MARKS

MARIO = "Jeu vidéo Mario Kart 8 Deluxe pour Nintendo Switch"

# Later suggestion requests leave the browser this many ms late, so their answer
# lands after what the test does next (the race, made deterministic).
DELAY_REQUESTS = """
  var send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (body) {
    var xhr = this;
    setTimeout(function () { send.call(xhr, body); }, arguments[0]);
  };
"""


@pytest.fixture
def sell(browser, live_server, active_model, training_categories):
    """A seller logged in the browser; ``sell()`` opens a fresh Sell page."""
    from selenium.webdriver.support.ui import WebDriverWait

    seller = UserFactory(username="mona")
    client = Client()
    client.force_login(seller)
    browser.get(f"{live_server.url}/accounts/login/")
    browser.add_cookie(
        {
            "name": settings.SESSION_COOKIE_NAME,
            "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "path": "/",
        }
    )

    def open_page():
        browser.get(f"{live_server.url}/products/new/")
        return Page(browser, WebDriverWait(browser, WAIT_SECONDS))

    return open_page


class Page:
    """The Sell page, as a seller uses it."""

    def __init__(self, browser, wait):
        self.browser, self.wait = browser, wait

    def find(self, css):
        from selenium.webdriver.common.by import By

        return self.browser.find_element(By.CSS_SELECTOR, css)

    def js(self, script, *args):
        return self.browser.execute_script(script, *args)

    def prediction_on_screen(self) -> int | None:
        pk = self.js(
            "var l = document.querySelector('#suggestions .suggestion-list');"
            "return l ? l.dataset.prediction : null;"
        )
        return int(pk) if pk else None

    def idle(self) -> bool:
        return self.js("return document.querySelectorAll('.htmx-request').length === 0")

    def for_current_text(self) -> bool:
        """Are the suggestions on screen those for the title and description as
        they are now?"""
        pk = self.prediction_on_screen()
        if pk is None:
            return False
        text = prediction_input_sha256(
            title=self.find("#id_title").get_attribute("value"),
            description=self.find("#id_description").get_attribute("value"),
        )
        return Prediction.objects.get(pk=pk).input_text_sha256 == text

    def settle(self) -> Prediction:
        """The seller leaves the field they typed in (its change event fires) and
        waits for the suggestions for the text as it is now."""
        self.js("document.activeElement && document.activeElement.blur()")
        self.wait.until(lambda d: self.idle() and self.for_current_text())
        return Prediction.objects.get(pk=self.prediction_on_screen())

    def type(self, field: str, text: str) -> None:
        self.find(f"#id_{field}").send_keys(text)

    def pick_from_list(self, category: Category) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.find("#id_other_category")).select_by_value(str(category.pk))

    def tick(self, rank: int) -> None:
        self.find(f"#suggestions input[data-rank='{rank}']").click()

    def ticked(self) -> str | None:
        """The rank of the ticked radio, "other", or None."""
        return self.js(
            "var r = document.querySelector("
            "'#suggestions input[name=category]:checked');"
            "return r ? (r.dataset.rank || 'other') : null;"
        )

    def list_value(self) -> str:
        return self.find("#id_other_category").get_attribute("value")

    def kept_notice(self) -> str:
        return self.js(
            "var k = document.getElementById('choice-kept');"
            "return k && !k.hidden ? k.textContent : '';"
        )

    def delay_requests(self, ms: int) -> None:
        self.js(DELAY_REQUESTS, ms)

    def save(self, title: str) -> Product:
        self.find("#save-listing").click()
        self.wait.until(lambda d: "/products/new/" not in d.current_url)
        return Product.objects.get(title=title)


def _category(code: str) -> Category:
    return Category.objects.get(code=code)


def _suggested(prediction: Prediction, rank: int) -> int:
    return prediction.top_k[rank - 1]["category_id"]


def test_the_issue_a_list_choice_survives_a_later_edit_of_the_title(sell, screenshots):
    page = sell()
    occasion = _category("2462")
    # Given the seller typed the title and got suggestions
    page.type("title", MARIO)
    first = page.settle()
    assert page.ticked() == "1"
    # When they pick "Jeux videos occasion" from "Or any category"
    page.pick_from_list(occasion)
    assert page.ticked() == "other"
    # and add " - occasion" to the title
    page.type("title", " - occasion")
    second = page.settle()
    # Then the new suggestions tick nothing but "Another category", the list keeps the
    # pick, and the panel says the choice is kept and what the model now suggests
    assert page.ticked() == "other"
    assert page.list_value() == str(occasion.pk)
    assert page.kept_notice().startswith("Your choice is kept: Jeux videos occasion")
    assert second.top_k[0]["name"] in page.kept_notice()
    _screenshot(page.browser, screenshots / "sell-choice-kept.png")
    # When they save
    product = page.save(MARIO + " - occasion")
    # Then the product is saved in the category they chose, with the prediction that
    # was on screen when they chose, marked as made for an earlier text, not "kept"
    assert product.category == occasion
    prediction = product.predictions.get()
    assert prediction == first
    assert (prediction.chosen_source, prediction.chosen_rank) == ("list", None)
    assert prediction.for_saved_text is False
    assert not prediction.kept
    assert page.browser.find_elements("css selector", ".suggestion-kept") == []


@pytest.mark.parametrize("order", ["change-then-pick", "pick-then-change"])
def test_the_race_a_description_change_as_the_seller_picks_from_the_list(sell, order):
    page = sell()
    occasion = _category("2462")
    page.type("title", MARIO)
    first = page.settle()
    # When the description's change event fires as the seller picks from the list,
    # and the suggestions for the new description arrive 300 ms later
    page.delay_requests(300)
    page.js(
        """
        var description = document.getElementById('id_description');
        var list = document.getElementById('id_other_category');
        description.value = 'Cartouche seule, bon état';
        function change() {
          description.dispatchEvent(new Event('change', {bubbles: true}));
        }
        function pick() {
          list.value = arguments[0];
          list.dispatchEvent(new Event('change', {bubbles: true}));
        }
        if (arguments[1] === 'change-then-pick') { change(); pick(arguments[0]); }
        else { pick(arguments[0]); change(); }
        """,
        str(occasion.pk),
        order,
    )
    page.settle()
    # Then the choice is still the seller's, and so is the saved category
    assert page.ticked() == "other"
    assert page.list_value() == str(occasion.pk)
    product = page.save(MARIO)
    assert product.category == occasion
    prediction = product.predictions.get()
    assert prediction == first
    assert prediction.for_saved_text is False
    assert not prediction.kept


def test_the_race_a_description_change_as_the_seller_ticks_the_second_suggestion(
    sell,
):
    page = sell()
    page.type("title", MARIO)
    first = page.settle()
    second_choice = _suggested(first, 2)
    page.delay_requests(300)
    page.js(
        """
        var description = document.getElementById('id_description');
        description.value = 'Cartouche seule';
        description.dispatchEvent(new Event('change', {bubbles: true}));
        document.querySelector("#suggestions input[data-rank='2']").click();
        """
    )
    page.settle()
    # The new panel ticks nothing: the choice belongs to the earlier suggestions
    assert page.ticked() is None
    assert page.kept_notice() != ""
    product = page.save(MARIO)
    assert product.category_id == second_choice
    prediction = product.predictions.get()
    assert (prediction, prediction.chosen_source, prediction.chosen_rank) == (
        first,
        "suggestion",
        2,
    )
    assert not prediction.kept


def test_keeping_the_first_suggestion_untouched_is_kept(sell):
    page = sell()
    page.type("title", "roman de poche auteur")
    prediction = page.settle()
    product = page.save("roman de poche auteur")
    assert product.category_id == _suggested(prediction, 1)
    prediction.refresh_from_db()
    assert prediction.product == product
    assert (prediction.chosen_rank, prediction.for_saved_text) == (1, True)
    assert prediction.kept
    assert page.browser.find_elements("css selector", ".suggestion-kept") != []


def test_untouched_suggestions_follow_the_text_until_the_seller_chooses(sell):
    page = sell()
    # When the seller types, edits, and only then saves without choosing
    page.type("title", "roman de poche")
    first = page.settle()
    page.type("title", " auteur")
    latest = page.settle()
    assert latest != first
    # Then the first suggestion for the saved text is the choice, and it is "kept"
    assert page.ticked() == "1"
    assert page.kept_notice() == ""
    product = page.save("roman de poche auteur")
    prediction = product.predictions.get()
    assert prediction == latest
    assert product.category_id == _suggested(latest, 1)
    assert prediction.kept


def test_choosing_the_second_suggestion_then_editing_keeps_it(sell):
    page = sell()
    page.type("title", "piscine filtre pompe")
    first = page.settle()
    page.tick(2)
    page.type("description", "chlore bassin")
    page.find("#id_title").click()  # the description's change event
    page.settle()
    assert page.ticked() is None
    product = page.save("piscine filtre pompe")
    assert product.category_id == _suggested(first, 2)
    prediction = product.predictions.get()
    assert (prediction, prediction.chosen_rank) == (first, 2)
    assert prediction.for_saved_text is False
    assert "earlier version of the text" in page.browser.page_source


def test_changing_ones_mind_for_the_new_first_suggestion(sell):
    page = sell()
    books = _category("9101")
    page.type("title", "console manette")
    first = page.settle()
    page.pick_from_list(books)
    page.type("title", " jeu")
    latest = page.settle()
    assert latest != first
    assert page.ticked() == "other"
    # When the seller ticks the model's new first suggestion
    page.tick(1)
    assert page.list_value() == ""
    product = page.save("console manette jeu")
    # Then that is the choice, made on the saved text: kept
    assert product.category_id == _suggested(latest, 1)
    prediction = product.predictions.get()
    assert prediction == latest
    assert (prediction.chosen_rank, prediction.for_saved_text) == (1, True)
    assert prediction.kept


def test_a_photo_rejected_by_the_browser_leaves_the_text_suggestions(
    sell, tmp_path, settings
):
    settings.PRODUCT_IMAGE_MAX_BYTES = 50_000
    page = sell()
    page.type("title", "roman de poche auteur")
    first = page.settle()
    # When the seller picks a photo too large, then a file that is not an image
    large = tmp_path / "large.jpg"
    large.write_bytes(jpeg_bytes() + b"\0" * 60_000)
    page.type("photo", str(large))
    page.wait.until(lambda d: page.find("#photo-client-error").is_displayed())
    assert "is too large" in page.find("#photo-client-error").text
    assert page.find("#id_photo").get_attribute("value") == ""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    page.type("photo", str(notes))
    page.wait.until(lambda d: "not a JPEG" in page.find("#photo-client-error").text)
    # Then the text suggestions stay on screen (asked again for the text alone)
    page.wait.until(lambda d: page.idle())
    assert page.prediction_on_screen() is not None
    assert page.find(".suggestion-name").text == first.top_k[0]["name"]


def test_a_photo_rejected_by_the_server_shows_beside_the_text_suggestions(
    sell, tmp_path
):
    import io

    from PIL import Image

    page = sell()
    page.type("title", "roman de poche auteur")
    first = page.settle()
    # When the seller picks a PNG named .jpg (the browser cannot tell)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(buffer.getvalue())
    page.type("photo", str(fake))
    page.wait.until(
        lambda d: page.idle() and page.prediction_on_screen() not in (None, first.pk)
    )
    # Then the photo's error shows above the suggestions for the text alone
    assert "does not match its content" in page.find(".photo-error").text
    assert page.find(".suggestion-name").text == first.top_k[0]["name"]
