"""``dataset_reset`` and ``dataset_new_products``: "reset datasets", without deleting
anything."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Product
from ml.models import DatasetReset, TrainingRun
from ml.selectors.datasets import dataset_cutoff, dataset_new_products
from ml.services.datasets import dataset_reset
from rakuten.exceptions import ApplicationError
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_without_training_or_reset_every_confirmed_product_is_new():
    # Given two confirmed products and one waiting for a category
    confirmed = ProductFactory.create_batch(2, confirmed_at=timezone.now())
    ProductFactory(category=None)
    # Then the two confirmed ones are new
    assert dataset_cutoff() is None
    assert set(dataset_new_products()) == set(confirmed)


def test_new_products_are_counted_from_the_later_of_training_and_reset(staff_user):
    now = timezone.now()
    # Given a successful run 3 days ago, a failed one and a reset 1 day ago
    TrainingRun.objects.create(status="succeeded", finished_at=now - timedelta(3))
    TrainingRun.objects.create(status="failed", finished_at=now - timedelta(hours=1))
    reset = DatasetReset.objects.create(created_by=staff_user, products_count=0)
    DatasetReset.objects.filter(pk=reset.pk).update(created_at=now - timedelta(1))
    ProductFactory(confirmed_at=now - timedelta(2))
    recent = ProductFactory(confirmed_at=now - timedelta(hours=2))
    # Then the cutoff is the reset, and only the product confirmed since counts
    assert dataset_cutoff() == now - timedelta(1)
    assert list(dataset_new_products()) == [recent]


def test_reset_needs_a_confirmation(staff_user):
    ProductFactory(confirmed_at=timezone.now())
    # When staff reset without confirming
    with pytest.raises(ApplicationError) as error:
        dataset_reset(user=staff_user, confirm=False)
    # Then it is refused, and nothing changed
    assert error.value.extra == {"confirm": ["Tick this box to reset."]}
    assert DatasetReset.objects.count() == 0
    assert dataset_new_products().count() == 1


def test_reset_records_the_count_and_deletes_nothing(staff_user):
    ProductFactory.create_batch(3, confirmed_at=timezone.now() - timedelta(hours=1))
    # When staff reset with confirmation
    reset = dataset_reset(user=staff_user, confirm=True)
    # Then the reset is recorded, the new count is 0, and every product is kept
    assert (reset.created_by, reset.products_count) == (staff_user, 3)
    assert dataset_new_products().count() == 0
    assert Product.objects.count() == 3
