"""The label-quality guard: a seller contradicting a confident model in most of
their listings is flagged once, their listings leave the training data, and staff
clearing brings them back (audited)."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from ml.models import SellerLabelReview
from ml.services.label_guard import (
    seller_label_review_clear,
    seller_label_review_exclude,
    seller_label_reviews_evaluate,
)
from ml.services.monitoring import model_monitoring_run
from ml.services.training_data import training_samples_confirmed
from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.ml.anomaly_data import listing_with_prediction

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("guard_settings"),
]


@pytest.fixture
def guard_settings(settings):
    settings.ML_LABEL_GUARD_CONFIDENCE = 0.8
    settings.ML_LABEL_GUARD_MIN_LISTINGS = 5
    settings.ML_LABEL_GUARD_MAX_RATE = 0.5


@pytest.fixture
def cats():
    return CategoryFactory(code="books"), CategoryFactory(code="games")


@pytest.fixture
def careless(cats):
    """6 listings, 4 of them against a confident (0.9) suggestion."""
    books, games = cats
    seller = UserFactory(username="careless", role=User.Role.SELLER)
    for i in range(6):
        listing_with_prediction(
            seller=seller,
            chosen=games if i < 4 else books,
            predicted=books,
            probability=0.9,
            title=f"careless {i}",
        )
    return seller


@pytest.fixture
def careful(cats):
    """6 listings: 1 confident override, 3 overrides of an unsure model (0.5)."""
    books, games = cats
    seller = UserFactory(username="careful", role=User.Role.SELLER)
    for i in range(6):
        listing_with_prediction(
            seller=seller,
            chosen=games if i < 4 else books,
            predicted=books,
            probability=0.9 if i == 0 else 0.5,
            title=f"careful {i}",
        )
    return seller


def _titles() -> set[str]:
    return {s.title for s in training_samples_confirmed().samples}


def test_a_seller_over_the_threshold_is_flagged_exactly_once(careless, careful):
    # When the guard evaluates the sellers (twice)
    opened = seller_label_reviews_evaluate()
    again = seller_label_reviews_evaluate()
    # Then the careless seller has one open review, the careful one none
    assert [review.seller for review in opened] == [careless]
    assert again == []
    review = SellerLabelReview.objects.get()
    assert review.status == SellerLabelReview.Status.OPEN
    assert review.stats["listings"] == 6
    assert review.stats["confident_overrides"] == 4
    assert review.stats["rate"] == pytest.approx(4 / 6)
    assert review.stats["platform_rate"] == pytest.approx(5 / 12)
    assert AuditEvent.objects.filter(verb="seller_label_review.opened").count() == 1


def test_too_few_listings_are_not_judged(careless, settings):
    settings.ML_LABEL_GUARD_MIN_LISTINGS = 7
    assert seller_label_reviews_evaluate() == []


def test_the_daily_monitoring_run_evaluates_the_sellers(careless):
    model_monitoring_run(days=7)
    assert SellerLabelReview.objects.filter(seller=careless).count() == 1


def test_listings_leave_the_training_data_until_staff_clear(
    careless, careful, staff_user
):
    imported = ProductFactory(
        title="imported",
        seller=None,
        category=careless.products.first().category,
        confirmed_at=timezone.now() - timedelta(days=1),
    )
    assert {"careless 0", "careful 0", imported.title} <= _titles()
    # Given an open review of the careless seller
    (review,) = seller_label_reviews_evaluate()
    # Then their listings are out of the training data, the others' stay
    titles = _titles()
    assert not any(t.startswith("careless") for t in titles)
    assert {f"careful {i}" for i in range(6)} | {"imported"} <= titles
    # and stay out when staff exclude them
    review = seller_label_review_exclude(review=review, user=staff_user)
    assert review.status == SellerLabelReview.Status.EXCLUDED
    assert not any(t.startswith("careless") for t in _titles())
    # When staff clear the review, the listings come back, audited
    review = seller_label_review_clear(review=review, user=staff_user)
    assert review.status == SellerLabelReview.Status.CLEARED
    assert review.reviewed_by == staff_user and review.active_key is None
    assert {f"careless {i}" for i in range(6)} <= _titles()
    event = AuditEvent.objects.get(verb="seller_label_review.cleared")
    assert event.actor == staff_user and event.object_id == str(review.pk)
    # and the cleared listings do not flag the seller again
    assert seller_label_reviews_evaluate() == []


def test_new_listings_after_a_clearing_can_flag_again(careless, cats, staff_user):
    (review,) = seller_label_reviews_evaluate()
    seller_label_review_clear(review=review, user=staff_user)
    books, games = cats
    later = timezone.now() + timedelta(minutes=1)
    for i in range(5):
        listing_with_prediction(
            seller=careless,
            chosen=games,
            predicted=books,
            title=f"later {i}",
            confirmed_at=later,
        )
    (again,) = seller_label_reviews_evaluate()
    assert again.seller == careless and again.stats["listings"] == 5


def test_clearing_twice_is_a_no_op(careless, staff_user):
    (review,) = seller_label_reviews_evaluate()
    seller_label_review_clear(review=review, user=staff_user)
    seller_label_review_clear(review=review, user=staff_user)
    seller_label_review_exclude(review=review, user=staff_user)
    review.refresh_from_db()
    assert review.status == SellerLabelReview.Status.CLEARED
    assert AuditEvent.objects.filter(verb="seller_label_review.cleared").count() == 1


@override_settings(ML_LABEL_GUARD_MAX_RATE=0.9)
def test_the_threshold_is_a_setting(careless):
    assert seller_label_reviews_evaluate() == []
