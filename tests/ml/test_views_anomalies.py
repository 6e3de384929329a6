"""The performance page's anomalies: override rate per category, the most frequent
"predicted X, seller chose Y" pairs with links to examples, and the label-quality
guard's reviews with their clear and exclude buttons."""

import re

import pytest
from django.test import override_settings

from accounts.models import User
from audit.models import AuditEvent
from ml.models import SellerLabelReview
from ml.services.label_guard import seller_label_reviews_evaluate
from tests.factories import CategoryFactory, UserFactory
from tests.ml.anomaly_data import listing_with_prediction

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_performance_page_lists_rates_and_pairs(
    client_logged_in_as, staff_user, seller
):
    # Given 3 book listings (1 chosen against a "games" suggestion) and 1 game listing
    books = CategoryFactory(code="books", name="Books")
    games = CategoryFactory(code="games", name="Games")
    for _ in range(2):
        listing_with_prediction(seller=seller, chosen=books, predicted=books)
    override = listing_with_prediction(
        seller=seller, chosen=books, predicted=games, title="Roman policier"
    )
    listing_with_prediction(seller=seller, chosen=games, predicted=games)
    # When staff open the performance page (no active model: the section still shows)
    response = client_logged_in_as(staff_user).get("/staff/performance/?days=7")
    html = response.content.decode()
    assert response.status_code == 200
    # Then the override rate per category is listed, highest first
    rates = _text(html.split('class="table table-sm align-middle anomaly-rates"')[1])
    assert "Books books 3 1 33% Games games 1 0 0%" in rates
    # and the pair "predicted Games, seller chose Books" with a link to the example
    pairs = html.split('class="table table-sm align-middle anomaly-pairs"')[1]
    assert "Games games Books books 1" in _text(pairs)
    assert f'<a href="/products/{override.pk}/">Roman policier</a>' in pairs


def test_staff_clear_and_exclude_a_review_from_the_page(
    client_logged_in_as, staff_user
):
    books = CategoryFactory(code="books", name="Books")
    games = CategoryFactory(code="games", name="Games")
    flagged = UserFactory(username="flagged", role=User.Role.SELLER)
    for _ in range(3):
        listing_with_prediction(seller=flagged, chosen=games, predicted=books)
    with override_settings(ML_LABEL_GUARD_MIN_LISTINGS=3):
        (review,) = seller_label_reviews_evaluate()
    client = client_logged_in_as(staff_user)
    html = client.get("/staff/performance/").content.decode()
    section = _text(html.split('id="label-reviews"')[1])
    assert "flagged 3 3 (100%) 100% Open Clear Exclude" in section
    # When staff exclude, then clear it
    response = client.post(f"/staff/label-reviews/{review.pk}/exclude/")
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == SellerLabelReview.Status.EXCLUDED
    client.post(f"/staff/label-reviews/{review.pk}/clear/")
    review.refresh_from_db()
    assert (review.status, review.reviewed_by) == ("cleared", staff_user)
    verbs = list(
        AuditEvent.objects.filter(object_type="SellerLabelReview")
        .order_by("pk")
        .values_list("verb", flat=True)
    )
    assert verbs == [
        "seller_label_review.opened",
        "seller_label_review.excluded",
        "seller_label_review.cleared",
    ]
    # and the section is empty again
    html = client.get("/staff/performance/").content.decode()
    assert "None." in html.split('id="label-reviews"')[1]


@pytest.mark.parametrize("action", ["clear", "exclude"])
def test_only_staff_may_review(client_logged_in_as, seller, action):
    response = client_logged_in_as(seller).post(f"/staff/label-reviews/1/{action}/")
    assert response.status_code == 403


def test_an_unknown_review_is_404(client_logged_in_as, staff_user):
    response = client_logged_in_as(staff_user).post("/staff/label-reviews/999/clear/")
    assert response.status_code == 404
