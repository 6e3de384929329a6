"""Taxonomy changes from the staff side: the categories page (merge, which categories
the active model knows) and ``manage.py merge_category``."""

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from catalog.models import Category, Product
from tests.factories import CategoryFactory, ModelVersionFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def taxonomy():
    old, new = CategoryFactory(code="T1", name="Ancienne"), CategoryFactory(code="T2")
    for _ in range(3):
        ProductFactory(category=old)
    ProductFactory(category=new)
    return old, new


def test_the_page_says_which_categories_the_active_model_knows(
    client_logged_in_as, staff_user, taxonomy
):
    ModelVersionFactory(status="active", active_marker=True, label_codes=["T1"])

    response = client_logged_in_as(staff_user).get("/staff/categories/")

    rows = {row["category"].code: row for row in response.context["rows"]}
    assert (rows["T1"]["products"], rows["T1"]["known"]) == (3, True)
    assert (rows["T2"]["products"], rows["T2"]["known"]) == (1, False)
    assert "not known" in response.content.decode()


def test_staff_merge_a_category_from_the_page(
    client_logged_in_as, staff_user, taxonomy
):
    old, new = taxonomy

    response = client_logged_in_as(staff_user).post(
        "/staff/categories/",
        {"source": old.pk, "target": new.pk, "confirm": "on"},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == "/staff/categories/"
    assert "3 products moved" in response.content.decode()
    assert Product.objects.filter(category=new).count() == 4
    assert Category.objects.get(pk=old.pk).active is False
    assert AuditEvent.objects.get(verb="category.merged").actor == staff_user


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"confirm": "on"}, "source"),
        ({"confirm": "on", "same": True}, "target"),
        ({}, "confirm"),
    ],
)
def test_a_bad_merge_is_a_form_error_and_changes_nothing(
    client_logged_in_as, staff_user, taxonomy, data, field
):
    old, new = taxonomy
    post = {"confirm": data.get("confirm", "")}
    if field != "source":
        post.update(source=old.pk, target=old.pk if data.get("same") else new.pk)

    response = client_logged_in_as(staff_user).post("/staff/categories/", post)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert Product.objects.filter(category=old).count() == 3
    assert Category.objects.get(pk=old.pk).active is True


def test_sellers_cannot_open_the_page(client_logged_in_as, seller):
    response = client_logged_in_as(seller).get("/staff/categories/")
    assert response.status_code == 403


def test_the_command_merges_or_says_why_not(taxonomy, capsys):
    old, new = taxonomy

    with pytest.raises(CommandError, match="no category with code 'NOPE'"):
        call_command("merge_category", "NOPE", "T2")
    call_command("merge_category", "T1", "T2")

    assert "T1 merged into T2: 3 products moved" in capsys.readouterr().out
    assert Category.objects.get(pk=old.pk).active is False
    with pytest.raises(CommandError, match="retired"):
        call_command("merge_category", "T2", "T1")


def test_the_page_lists_active_categories_by_code_as_numbers_then_retired_ones(
    client_logged_in_as, staff_user
):
    CategoryFactory(code="45", active=False)
    CategoryFactory(code="X1")

    response = client_logged_in_as(staff_user).get("/staff/categories/")

    codes = [row["category"].code for row in response.context["rows"]]
    assert codes[:6] == ["10", "40", "50", "60", "1140", "1160"]
    assert codes[-3:] == ["2905", "X1", "45"]
    merge_codes = [c.code for c in response.context["form"].fields["source"].queryset]
    assert merge_codes[:4] == ["10", "40", "50", "60"] and merge_codes[-1] == "X1"
