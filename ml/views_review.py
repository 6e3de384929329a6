"""Staff pages of the review queue and of taxonomy migrations. Each view parses and
validates, calls one service or selector, and renders or redirects."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from catalog.models import TaxonomyMigration
from catalog.selectors import category_list
from ml.forms import (
    ReviewBulkAcceptForm,
    ReviewDecideForm,
    ReviewFilterForm,
    TaxonomyMigrationForm,
)
from ml.models import ReviewItem
from ml.selectors.review import review_item_list
from ml.services.review_queue import review_item_decide, review_items_accept
from ml.services.taxonomy_migrations import (
    taxonomy_migration_predict,
    taxonomy_migration_start_uploads,
    taxonomy_migration_train,
    taxonomy_migration_undo_all,
)
from ml.views import staff_required
from rakuten.exceptions import ApplicationError

REVIEW_PAGE_SIZE = 50


def _back(request) -> str:
    """The review page with the filters the decision was made under."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return target
    return reverse("ml:review")


@staff_required
@require_GET
def review(request):
    form = ReviewFilterForm(request.GET or None)
    filters = form.filters() if request.GET else {}
    items = review_item_list(**filters)
    page = Paginator(items, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    categories = list(category_list())
    names = {c.code: c.name for c in categories}
    for item in page:
        item.top = [
            {**s, "name": names.get(s["code"], s["code"])} for s in item.suggestions[:3]
        ]
    query = urlencode({k: v for k, v in request.GET.items() if k != "page"})
    return render(
        request,
        "ml/review.html",
        {
            "form": form,
            "page": page,
            "categories": categories,
            "here": request.get_full_path(),
            "query": query,
        },
    )


@staff_required
@require_POST
def review_item_decide_view(request, pk: int):
    item = get_object_or_404(ReviewItem, pk=pk)
    form = ReviewDecideForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()))
        return redirect(_back(request))
    try:
        item = review_item_decide(
            item=item,
            user=request.user,
            accept=form.cleaned_data["accept"],
            category_code=form.cleaned_data["category"],
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{item.product.title}: {item.chosen_category.code} "
            f"({item.get_status_display().lower()}).",
        )
    return redirect(_back(request))


@staff_required
@require_POST
def review_bulk_accept(request):
    form = ReviewBulkAcceptForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()))
        return redirect(_back(request))
    filters = ReviewFilterForm(request.POST).filters()
    items = review_item_list(**filters)
    if not form.cleaned_data["everything"]:
        items = items.filter(pk__in=form.cleaned_data["ids"])
    accepted = review_items_accept(items=list(items), user=request.user)
    messages.success(request, f"{accepted} suggestions accepted.")
    return redirect(_back(request))


# --- Taxonomy migrations (from the categories page) -----------------------------------


@staff_required
@require_POST
def taxonomy_migration_create_view(request):
    form = TaxonomyMigrationForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("ml:categories")
    try:
        plan, migration = taxonomy_migration_start_uploads(
            categories_file=form.cleaned_data["categories"],
            mapping_file=form.cleaned_data["mapping"],
            user=request.user,
            dry_run=form.cleaned_data["dry_run"],
        )
    except ApplicationError as exc:
        messages.error(request, f"Nothing changed: {exc.message}")
        return redirect("ml:categories")
    summary = plan.summary()
    counts = (
        f"{summary['products_mapped']} products mapped one to one, "
        f"{summary['products_split']} in split categories, "
        f"{summary['products_retired']} in retired ones"
    )
    if migration is None:
        messages.info(request, f"Dry run, nothing changed: {counts}.")
    else:
        messages.success(
            request,
            f"Taxonomy version {migration.to_version.name} is current: {counts}.",
        )
    return redirect("ml:categories")


_ACTIONS = {
    "undo": (taxonomy_migration_undo_all, "Migration {pk} undone."),
    "predict": (
        taxonomy_migration_predict,
        "Migration {pk}: batch job started for its waiting products.",
    ),
    "train": (
        taxonomy_migration_train,
        "Migration {pk}: training run queued on the new taxonomy.",
    ),
}


@staff_required
@require_POST
def taxonomy_migration_action(request, pk: int, action: str):
    migration = get_object_or_404(TaxonomyMigration, pk=pk)
    service, message = _ACTIONS[action]
    try:
        service(migration=migration, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, message.format(pk=pk))
    return redirect("ml:categories")
