"""The seller's choice on the Sell page and through the API: explicit (a suggestion
at rank k, or the list), checked against the prediction on screen, stored with the
prediction, and marked when the saved text is not the one the prediction was made
for."""

import pytest

from catalog.models import Product
from ml.models import Prediction

pytestmark = pytest.mark.django_db

SELL_URL = "/products/new/"
SUGGEST_URL = "/products/suggestions/"
TITLE = "roman de poche auteur"


def _suggest(client, title=TITLE, description=""):
    client.post(SUGGEST_URL, {"title": title, "description": description})
    return Prediction.objects.latest("pk")


def _sell(client, prediction, *, title=TITLE, description="", **choice):
    return client.post(
        SELL_URL,
        {
            "title": title,
            "description": description,
            "prediction": prediction.pk,
            **choice,
        },
    )


def _suggestion(prediction, rank: int) -> int:
    return prediction.top_k[rank - 1]["category_id"]


def test_keeping_the_first_suggestion_is_stored_as_kept(
    client_logged_in_as, seller, active_model
):
    client = client_logged_in_as(seller)
    prediction = _suggest(client)
    response = _sell(
        client,
        prediction,
        choice_source="suggestion",
        choice_rank=1,
        choice_category=_suggestion(prediction, 1),
    )
    product = Product.objects.get()
    assert response.status_code == 302
    prediction.refresh_from_db()
    assert prediction.product == product
    assert product.category_id == _suggestion(prediction, 1)
    assert (prediction.chosen_source, prediction.chosen_rank) == ("suggestion", 1)
    assert prediction.chosen_category_id == product.category_id
    assert prediction.for_saved_text is True
    assert prediction.kept
    # and the product page says the suggestion was kept
    html = client.get(f"/products/{product.pk}/").content.decode()
    assert "suggestion-kept" in html
    assert "earlier version of the text" not in html


def test_choosing_the_second_suggestion_is_not_kept(
    client_logged_in_as, seller, active_model
):
    client = client_logged_in_as(seller)
    prediction = _suggest(client)
    _sell(
        client,
        prediction,
        choice_source="suggestion",
        choice_rank=2,
        choice_category=_suggestion(prediction, 2),
    )
    product = Product.objects.get()
    prediction.refresh_from_db()
    assert product.category_id == _suggestion(prediction, 2)
    assert prediction.chosen_rank == 2
    assert not prediction.kept
    html = client.get(f"/products/{product.pk}/").content.decode()
    assert "suggestion-kept" not in html
    assert "suggestion-chosen" in html


def test_an_inconsistent_suggestion_choice_is_refused_and_nothing_is_stored(
    client_logged_in_as, seller, active_model
):
    client = client_logged_in_as(seller)
    prediction = _suggest(client)
    # When the form claims "suggestion 1" with the category of suggestion 2
    response = _sell(
        client,
        prediction,
        choice_source="suggestion",
        choice_rank=1,
        choice_category=_suggestion(prediction, 2),
    )
    # Then the form says so, and nothing is stored
    assert response.status_code == 200
    assert "The category you chose is not the suggestion you ticked" in (
        response.content.decode()
    )
    assert Product.objects.count() == 0
    prediction.refresh_from_db()
    assert (prediction.product, prediction.chosen_rank) == (None, None)


def test_a_suggestion_choice_without_its_rank_is_refused(
    client_logged_in_as, seller, active_model
):
    client = client_logged_in_as(seller)
    prediction = _suggest(client)
    response = _sell(
        client,
        prediction,
        choice_source="suggestion",
        choice_category=_suggestion(prediction, 1),
    )
    assert response.status_code == 200
    assert "Your choice of suggestion is incomplete" in response.content.decode()
    assert Product.objects.count() == 0


def test_a_list_choice_wins_over_a_radio_reset_by_new_suggestions(
    client_logged_in_as, seller, active_model, training_categories
):
    client = client_logged_in_as(seller)
    prediction = _suggest(client)
    pool = training_categories["9103"]
    # When the radios say "suggestion 1" (reset by a swap) but the choice is the list
    _sell(
        client,
        prediction,
        category=_suggestion(prediction, 1),
        other_category=pool.pk,
        choice_source="list",
        choice_category=pool.pk,
    )
    # Then the seller's choice is saved; its rank is derived from the suggestions
    product = Product.objects.get()
    prediction.refresh_from_db()
    assert product.category == pool
    assert prediction.chosen_source == "list"
    assert (
        prediction.chosen_rank
        == [s["code"] for s in prediction.top_k].index("9103") + 1
    )
    assert not prediction.kept


def test_editing_the_text_after_choosing_keeps_the_choice_and_marks_the_prediction(
    client_logged_in_as, seller, active_model
):
    client = client_logged_in_as(seller)
    prediction = _suggest(client)
    first = _suggestion(prediction, 1)
    # When the seller chose suggestion 1, then added words to the title, and saves
    _sell(
        client,
        prediction,
        title=TITLE + " - occasion",
        choice_source="suggestion",
        choice_rank=1,
        choice_category=first,
    )
    # Then the category is theirs, the prediction on screen is linked, marked as made
    # for another text, and not "kept"
    product = Product.objects.get()
    prediction.refresh_from_db()
    assert product.category_id == first
    assert prediction.product == product
    assert prediction.for_saved_text is False
    assert prediction.chosen_rank == 1
    assert not prediction.kept
    html = client.get(f"/products/{product.pk}/").content.decode()
    assert "earlier version of the text" in html
    assert "suggestion-kept" not in html


def test_without_script_the_ticked_radio_is_a_suggestion_with_a_derived_rank(
    client_logged_in_as, seller, active_model
):
    client = client_logged_in_as(seller)
    prediction = _suggest(client)
    _sell(client, prediction, category=_suggestion(prediction, 3))
    prediction.refresh_from_db()
    assert (prediction.chosen_source, prediction.chosen_rank) == ("suggestion", 3)


# --- The API --------------------------------------------------------------------------


def test_the_api_derives_the_rank_and_the_saved_text_flag(
    api_as, seller, active_model, training_categories
):
    client = api_as(seller)
    predicted = client.post(
        "/api/v1/predict/", {"title": "piscine filtre pompe"}, format="json"
    ).json()
    second = predicted["top_k"][1]
    # When an integrator lists the product under the second suggestion
    response = client.post(
        "/api/v1/products/",
        {
            "title": "piscine filtre pompe",
            "category": second["id"],
            "prediction": predicted["prediction_id"],
        },
        format="json",
    )
    assert response.status_code == 201
    prediction = Prediction.objects.get(pk=predicted["prediction_id"])
    assert (prediction.chosen_source, prediction.chosen_rank) == ("api", 2)
    assert prediction.for_saved_text is True
    assert not prediction.kept


def test_the_api_marks_a_prediction_made_for_another_text(
    api_as, seller, active_model, training_categories
):
    client = api_as(seller)
    predicted = client.post(
        "/api/v1/predict/", {"title": "piscine filtre pompe"}, format="json"
    ).json()
    first = predicted["top_k"][0]
    client.post(
        "/api/v1/products/",
        {
            "title": "piscine filtre pompe bleue",
            "category": first["id"],
            "prediction": predicted["prediction_id"],
        },
        format="json",
    )
    prediction = Prediction.objects.get(pk=predicted["prediction_id"])
    assert (prediction.chosen_rank, prediction.for_saved_text) == (1, False)
    assert not prediction.kept
