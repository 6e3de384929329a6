"""The Sell page: suggestions as the seller types, saving a listing with its
prediction, proposals from the unlabelled pool."""

import hashlib
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from audit.models import AuditEvent
from catalog.models import Product
from ml.models import Prediction
from tests.factories import CategoryFactory, ProductFactory
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db

SELL_URL = "/products/new/"
SUGGEST_URL = "/products/suggestions/"


def _suggest(client, **data):
    return client.post(SUGGEST_URL, {"title": "", "description": "", **data})


# --- The page ------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_log_in(client):
    # When an anonymous visitor opens the Sell page or asks for suggestions
    page = client.get(SELL_URL)
    suggestions = client.post(SUGGEST_URL, {"title": "roman de poche"})
    # Then both send them to log in, and nothing is predicted
    assert page.status_code == 302
    assert page["Location"] == f"/accounts/login/?next={SELL_URL}"
    assert suggestions.status_code == 302
    assert Prediction.objects.count() == 0


def test_sell_page_without_a_model_says_so_and_offers_every_category(
    client_logged_in_as, seller
):
    # Given no active model and an active category
    category = CategoryFactory(name="Bricolage")
    # When the seller opens the Sell page
    response = client_logged_in_as(seller).get(SELL_URL)
    # Then the page says there are no suggestions, and the list offers the category
    html = response.content.decode()
    assert response.status_code == 200
    assert "No model is active yet" in html
    assert f'<option value="{category.pk}">Bricolage (' in html


def test_sell_page_wires_the_suggestions_to_the_inputs(client_logged_in_as, seller):
    # When the seller opens the Sell page
    html = client_logged_in_as(seller).get(SELL_URL).content.decode()
    # Then title, description and photo post the form to the suggestions, debounced
    assert html.count(f'hx-post="{SUGGEST_URL}"') == 3
    assert html.count('hx-trigger="keyup changed delay:400ms, change"') == 2
    assert html.count('hx-encoding="multipart/form-data"') == 3


def test_sell_page_shows_the_sellers_summary(
    client_logged_in_as, seller, active_model, training_categories
):
    # Given two listings confirmed after a suggestion, one right and one wrong
    books, games = training_categories["9101"], training_categories["9102"]
    for real in (books, games):
        product = ProductFactory(category=real, confirmed_at="2026-01-01T10:00Z")
        Prediction.objects.create(
            model_version=active_model,
            product=product,
            predicted_category=books,
            top_k=[{"code": "9101", "probability": 0.9}],
            latency_ms=3,
        )
    # When the seller opens the Sell page
    html = client_logged_in_as(seller).get(SELL_URL).content.decode()
    # Then it says how the model did
    assert "The model got <strong>1 of the last 2</strong> listings right." in html


# --- Suggestions -------------------------------------------------------------------


def test_suggestions_show_the_top_three_and_store_the_prediction(
    client_logged_in_as, seller, active_model, training_categories
):
    # When the seller has typed a title
    response = _suggest(client_logged_in_as(seller), title="roman de poche auteur")
    # Then the prediction is stored with its model version, for this seller
    prediction = Prediction.objects.get()
    assert prediction.model_version == active_model
    assert prediction.requested_by == seller
    assert prediction.product is None
    assert [s["code"] for s in prediction.top_k][0] == "9101"
    assert len(prediction.top_k) == 3
    assert prediction.used == "text"
    # and the partial shows the three categories, the first one ticked
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-prediction="{prediction.pk}"' in html
    assert html.count('class="suggestion-name"') == 3
    books = training_categories["9101"]
    assert f'name="category" value="{books.pk}" checked>' in html
    assert "From the text only" in html


def test_suggestions_work_with_a_description_only_and_with_a_photo(
    client_logged_in_as, seller, active_model, photo
):
    client = client_logged_in_as(seller)
    # When the seller gives a short title, a description and a photo
    response = _suggest(client, title="roman", description="chapitre", photo=photo)
    # Then a prediction is made
    assert response.status_code == 200
    assert Prediction.objects.count() == 1


def test_suggestions_wait_for_a_few_characters(
    client_logged_in_as, seller, active_model
):
    # When the title is two characters long
    response = _suggest(client_logged_in_as(seller), title="ro")
    # Then the partial asks for more, and nothing is predicted
    assert b"Type a few characters of the title" in response.content
    assert Prediction.objects.count() == 0


def test_suggestions_without_a_model_say_so(client_logged_in_as, seller):
    # Given no active model
    # When the seller types a title
    response = _suggest(client_logged_in_as(seller), title="roman de poche")
    # Then the partial says so, and nothing is stored
    assert response.status_code == 200
    assert b"No model is active yet" in response.content
    assert Prediction.objects.count() == 0


def test_suggestions_with_a_bad_photo_show_the_error(
    client_logged_in_as, seller, active_model, bad_photo
):
    # When the seller picks a file that is not an image
    response = _suggest(
        client_logged_in_as(seller), title="roman de poche", photo=bad_photo
    )
    # Then the partial shows the photo's problem above the suggestions for the text
    # alone: the photo never hides the text
    html = response.content.decode()
    assert response.status_code == 200
    assert "The file is not a valid or complete image." in html
    assert "The suggestions below are for the text alone." in html
    prediction = Prediction.objects.get()
    assert prediction.used == "text"
    assert prediction.input_image_sha256 == ""
    assert f'data-prediction="{prediction.pk}"' in html
    assert html.index("photo-error") < html.index("suggestion-list")


def test_suggestions_with_a_bad_photo_and_no_title_ask_for_text(
    client_logged_in_as, seller, active_model, bad_photo
):
    response = _suggest(client_logged_in_as(seller), title="", photo=bad_photo)
    html = response.content.decode()
    assert "The file is not a valid or complete image." in html
    assert "Type a few characters of the title" in html
    assert Prediction.objects.count() == 0


def test_suggestions_read_the_photo_of_a_proposed_product(
    client_logged_in_as, seller, active_model, monkeypatch
):
    # Given a product of the unlabelled pool with a photo
    pool = _pool_product_with_photo()
    seen = {}

    def fake_prediction_create(**kwargs):
        seen.update(kwargs)
        return None

    monkeypatch.setattr("ml.views.prediction_create", fake_prediction_create)
    # When the seller asks for suggestions on the proposal, without a photo
    _suggest(client_logged_in_as(seller), title=pool.title, proposal=pool.pk)
    # Then the model gets the proposal's photo
    pool.image.open("rb")
    assert seen["image"] == pool.image.read()
    pool.image.close()


def test_suggestions_do_not_read_photos_of_labelled_products(
    client_logged_in_as, seller, other_seller, active_model
):
    # Given another seller's (labelled) product
    product = ProductFactory(seller=other_seller)
    # When a seller passes it as a proposal
    response = _suggest(client_logged_in_as(seller), title="roman", proposal=product.pk)
    # Then it is not found, and nothing is predicted
    assert response.status_code == 404
    assert Prediction.objects.count() == 0


def test_suggestions_only_accept_post(client_logged_in_as, seller):
    assert client_logged_in_as(seller).get(SUGGEST_URL).status_code == 405


# --- Saving --------------------------------------------------------------------------


def test_saving_the_first_suggestion_links_the_prediction(
    client_logged_in_as, seller, active_model, training_categories, photo
):
    client = client_logged_in_as(seller)
    books = training_categories["9101"]
    # Given suggestions for a title
    _suggest(client, title="roman de poche auteur")
    prediction = Prediction.objects.get()
    # When the seller keeps the first one and saves, with a photo
    response = client.post(
        SELL_URL,
        {
            "title": "roman de poche auteur",
            "description": "",
            "photo": photo,
            "category": books.pk,
            "prediction": prediction.pk,
        },
    )
    # Then the product is saved with its confirmed category and photo
    product = Product.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/products/{product.pk}/"
    assert (product.seller, product.category, product.title) == (
        seller,
        books,
        "roman de poche auteur",
    )
    assert product.confirmed_at is not None
    assert product.image_sha256 != ""
    # and the prediction now points at it
    prediction.refresh_from_db()
    assert prediction.product == product


def test_saving_another_category_from_the_list(
    client_logged_in_as, seller, active_model, training_categories
):
    client = client_logged_in_as(seller)
    _suggest(client, title="roman de poche auteur")
    prediction = Prediction.objects.get()
    pool = training_categories["9103"]
    # When the seller ticks "another category" and picks one in the list
    client.post(
        SELL_URL,
        {
            "title": "roman de poche auteur",
            "category": "",
            "other_category": pool.pk,
            "prediction": prediction.pk,
        },
    )
    # Then that category is confirmed, and the prediction is linked all the same
    product = Product.objects.get()
    assert product.category == pool
    prediction.refresh_from_db()
    assert prediction.product == product


def test_selling_without_a_model_with_a_manual_category(client_logged_in_as, seller):
    # Given no active model
    category = CategoryFactory()
    # When the seller saves a title and a category only
    response = client_logged_in_as(seller).post(
        SELL_URL, {"title": "Perceuse sans fil", "other_category": category.pk}
    )
    # Then the product is saved, without any prediction
    product = Product.objects.get()
    assert response.status_code == 302
    assert (product.title, product.description, product.category) == (
        "Perceuse sans fil",
        "",
        category,
    )
    assert Prediction.objects.count() == 0


def test_saving_without_a_category_is_refused(client_logged_in_as, seller):
    # When the seller saves without choosing a category
    response = client_logged_in_as(seller).post(SELL_URL, {"title": "Perceuse"})
    # Then the form says so, and nothing is stored
    assert response.status_code == 200
    assert b"Choose a category: a suggestion or one of the list." in response.content
    assert Product.objects.count() == 0


def test_saving_a_bad_photo_is_a_form_error_and_stores_nothing(
    client_logged_in_as, seller, active_model, training_categories, media_root
):
    client = client_logged_in_as(seller)
    _suggest(client, title="roman de poche")
    prediction = Prediction.objects.get()
    # When the seller saves with a PNG named .jpg
    fake = SimpleUploadedFile("photo.jpg", _png_bytes(), content_type="image/jpeg")
    response = client.post(
        SELL_URL,
        {
            "title": "roman de poche",
            "photo": fake,
            "category": training_categories["9101"].pk,
            "prediction": prediction.pk,
        },
    )
    # Then the form shows the error next to the photo, and shows the suggestions again
    html = response.content.decode()
    assert response.status_code == 200
    assert "The file extension .jpg does not match its content (PNG)." in html
    assert f'name="prediction" value="{prediction.pk}"' in html
    # and nothing is stored
    assert Product.objects.count() == 0
    assert list(media_root.rglob("*.*")) == []
    prediction.refresh_from_db()
    assert prediction.product is None


def test_saving_with_someone_elses_prediction_is_refused(
    client_logged_in_as, seller, other_seller, active_model, training_categories
):
    # Given a prediction another seller asked for
    _suggest(client_logged_in_as(other_seller), title="roman de poche")
    prediction = Prediction.objects.get()
    # When a seller saves a listing claiming it
    response = client_logged_in_as(seller).post(
        SELL_URL,
        {
            "title": "roman de poche",
            "category": training_categories["9101"].pk,
            "prediction": prediction.pk,
        },
    )
    # Then the form refuses it, and nothing is stored
    assert response.status_code == 200
    assert b"Unknown or already used prediction." in response.content
    assert Product.objects.count() == 0
    prediction.refresh_from_db()
    assert prediction.product is None


# --- Proposals -----------------------------------------------------------------------


def test_propose_fills_the_form_with_an_unlabelled_product(client_logged_in_as, seller):
    # Given one product in the unlabelled pool
    pool = _pool_product_with_photo()
    # When the seller clicks "Propose a product"
    html = client_logged_in_as(seller).get(SELL_URL + "?propose=1").content.decode()
    # Then the form holds its title, description and id, shows its photo, and asks
    # for suggestions as soon as the page loads
    assert f'value="{pool.title}"' in html
    assert "Piscine hors sol 4 m" in html
    assert f'name="proposal" value="{pool.pk}"' in html
    assert f'src="/products/proposals/{pool.pk}/photo/"' in html
    assert 'hx-trigger="load"' in html


def test_propose_with_an_empty_pool_says_so(client_logged_in_as, seller):
    # Given only labelled products
    ProductFactory()
    # When the seller clicks "Propose a product"
    response = client_logged_in_as(seller).get(SELL_URL + "?propose=1")
    # Then the page says the pool is empty
    assert b"The unlabelled pool is empty" in response.content


def test_proposal_photo_is_served_only_for_pool_products(
    client_logged_in_as, seller, other_seller
):
    pool = _pool_product_with_photo()
    labelled = ProductFactory(seller=other_seller)
    client = client_logged_in_as(seller)
    # When the seller opens the photos
    served = client.get(f"/products/proposals/{pool.pk}/photo/")
    refused = client.get(f"/products/proposals/{labelled.pk}/photo/")
    # Then only the pool product's photo is served
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == _pool_photo_bytes()
    assert refused.status_code == 404


def test_saving_a_proposal_labels_the_pool_product_itself(
    client_logged_in_as, seller, training_categories
):
    pool = _pool_product_with_photo()
    photo_name = pool.image.name
    # When the seller saves the proposal as it is, with a category
    response = client_logged_in_as(seller).post(
        SELL_URL,
        {
            "title": pool.title,
            "description": pool.description,
            "other_category": training_categories["9103"].pk,
            "proposal": pool.pk,
        },
    )
    # Then the pool product itself is labelled and confirmed, keeps its photo and its
    # seller (none: imported), and no product is created
    assert response.status_code == 302
    assert response["Location"] == "/products/new/?propose=1"
    assert Product.objects.count() == 1
    pool.refresh_from_db()
    assert pool.category == training_categories["9103"]
    assert pool.confirmed_at is not None
    assert (pool.seller, pool.source) == (None, Product.Source.IMPORT)
    assert pool.image.name == photo_name
    # and the labeller is in the audit log
    event = AuditEvent.objects.get(verb="product.proposal_labelled")
    assert (event.actor, event.object_id) == (seller, str(pool.pk))


def test_a_labelled_proposal_is_proposed_only_once(
    client_logged_in_as, seller, training_categories
):
    pool = _pool_product_with_photo()
    client = client_logged_in_as(seller)
    first = client.get(SELL_URL + "?propose=1")
    assert first.context["proposal"] == pool
    client.post(
        SELL_URL,
        {
            "title": pool.title,
            "other_category": training_categories["9103"].pk,
            "proposal": pool.pk,
        },
    )
    # When the seller asks for another proposal
    second = client.get(SELL_URL + "?propose=1")
    # Then the labelled product is never proposed again (the pool is empty)
    assert second.context["proposal"] is None
    assert b"The unlabelled pool is empty" in second.content
    # and saving it a second time is refused, with nothing changed
    again = client.post(
        SELL_URL,
        {
            "title": pool.title,
            "other_category": training_categories["9101"].pk,
            "proposal": pool.pk,
        },
    )
    assert again.status_code == 200
    assert "This product was labelled meanwhile" in again.content.decode()
    pool.refresh_from_db()
    assert pool.category == training_categories["9103"]
    assert Product.objects.count() == 1


def test_a_proposal_with_its_prediction_links_it_to_the_pool_product(
    client_logged_in_as, seller, active_model, training_categories
):
    pool = _pool_product_with_photo()
    client = client_logged_in_as(seller)
    _suggest(client, title=pool.title, description=pool.description, proposal=pool.pk)
    prediction = Prediction.objects.get()
    first = prediction.top_k[0]
    client.post(
        SELL_URL,
        {
            "title": pool.title,
            "description": pool.description,
            "choice_source": "suggestion",
            "choice_rank": 1,
            "choice_category": first["category_id"],
            "prediction": prediction.pk,
            "proposal": pool.pk,
        },
    )
    prediction.refresh_from_db()
    assert prediction.product_id == pool.pk
    assert (prediction.chosen_rank, prediction.for_saved_text) == (1, True)
    assert prediction.kept


def _pool_photo_bytes() -> bytes:
    return jpeg_bytes(color=(10, 120, 200))


def _pool_product_with_photo() -> Product:
    product = ProductFactory(
        title="Piscine hors sol 4 m",
        description="Avec pompe et filtre",
        category=None,
        seller=None,
        source=Product.Source.IMPORT,
    )
    data = _pool_photo_bytes()
    product.image.save("pool.jpg", ContentFile(data))
    product.image_sha256 = hashlib.sha256(data).hexdigest()
    product.save()
    return product


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    return buffer.getvalue()
