"""Seller pages: selling a new product (the Sell page), the seller's own products
(list, detail, edit, delete), and listing imports (upload, review, confirm)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from catalog.forms import (
    ListingForm,
    ListingImportFilterForm,
    ListingImportForm,
    ListingImportRowForm,
    ProductFilterForm,
    ProductForm,
    form_add_service_error,
)
from catalog.selectors import (
    listing_import_get_owned_by,
    listing_import_list_for_seller,
    listing_import_progress,
    listing_import_rows_for_review,
    product_get_owned_by,
    product_get_visible_to,
    product_list_visible_to,
    product_proposal_random,
    proposal_get,
)
from catalog.services.listing_import_confirmation import (
    listing_import_confirm_enqueue,
)
from catalog.services.listing_imports import (
    listing_import_create,
    listing_import_row_choose,
    listing_import_rows_accept,
)
from catalog.services.listings import listing_create, proposal_label
from catalog.services.products import product_delete, product_update
from rakuten.exceptions import ApplicationError, NotFoundError

PAGE_SIZE = 20


@login_required
@require_GET
def product_list(request):
    """A seller's products (staff and integrators read every product), searchable and
    filtered by category, 20 a page."""
    form = ProductFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    category = filters.get("category")
    products = product_list_visible_to(
        user=request.user,
        search=filters.get("q", "").strip(),
        category_id=category.pk if category else None,
    )
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "catalog/product_list.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


@login_required
@require_GET
def product_detail(request, pk: int):
    product = _get_or_404(product_get_visible_to, request.user, pk)
    return render(request, "catalog/product_detail.html", {"product": product})


@login_required
@require_GET
def product_photo(request, pk: int):
    """The product's photo, to whoever may read the product (media files are not
    served publicly)."""
    product = _get_or_404(product_get_visible_to, request.user, pk)
    if not product.image:
        raise Http404("This product has no photo.")
    return FileResponse(product.image.open("rb"))


@login_required
@require_http_methods(["GET", "POST"])
def product_edit(request, pk: int):
    product = _get_or_404(product_get_owned_by, request.user, pk)
    initial = {
        "title": product.title,
        "description": product.description,
        "category": product.category,
    }
    form = ProductForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            product_update(
                product=product,
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                category=form.cleaned_data["category"],
                image=form.cleaned_data["photo"],
                actor=request.user,
            )
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, "Product saved.")
            return redirect(product)
    return render(
        request, "catalog/product_form.html", {"form": form, "product": product}
    )


@login_required
@require_http_methods(["GET", "POST"])
def product_delete_view(request, pk: int):
    """GET asks for confirmation; POST deletes."""
    product = _get_or_404(product_get_owned_by, request.user, pk)
    if request.method == "POST":
        product_delete(product=product)
        messages.success(request, f"“{product.title}” was deleted.")
        return redirect("catalog:product_list")
    return render(request, "catalog/product_confirm_delete.html", {"product": product})


def _get_or_404(selector, user, pk: int):
    try:
        return selector(user=user, pk=pk)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc


# --- Selling -------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def listing_create_view(request):
    """The Sell page. ``?propose=1`` fills it with a random unlabelled product. The
    model's part of the page (which model suggests, the suggestions) comes from the ml
    app's template tags and suggestion endpoint."""
    proposal = None
    if request.method == "POST":
        form = ListingForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            choice = {
                "title": data["title"],
                "description": data["description"],
                "category": data["category"],
                "prediction_id": data["prediction"],
                "choice_source": data["choice_source"],
                "choice_rank": data["choice_rank"],
            }
            try:
                if data["proposal"]:
                    product = proposal_label(
                        proposal_id=data["proposal"],
                        labeller=request.user,
                        image=data["photo"],
                        **choice,
                    )
                else:
                    product = listing_create(
                        seller=request.user, image=data["photo"], **choice
                    )
            except ApplicationError as exc:
                form_add_service_error(form, exc)
            else:
                if data["proposal"]:
                    # The pool product is not the seller's: on to the next one.
                    messages.success(
                        request,
                        f"“{product.title}” is labelled {product.category.name}: "
                        "thank you. Here is another one.",
                    )
                    return redirect(f"{request.path}?propose=1")
                messages.success(request, f"“{product.title}” is listed.")
                return redirect(product)
        proposal = _proposal_or_none(form["proposal"].value())
    elif "propose" in request.GET:
        proposal = product_proposal_random()
        if proposal is None:
            messages.info(request, "The unlabelled pool is empty: nothing to propose.")
        form = ListingForm(initial=_proposal_initial(proposal))
    else:
        form = ListingForm()
    return render(
        request,
        "catalog/listing_form.html",
        {
            "form": form,
            "proposal": proposal,
        },
    )


@login_required
@require_GET
def proposal_photo(request, pk: int):
    proposal = _proposal_or_404(pk)
    if not proposal.image:
        raise Http404("This product has no photo.")
    return FileResponse(proposal.image.open("rb"))


def _proposal_initial(proposal) -> dict:
    if proposal is None:
        return {}
    return {
        "title": proposal.title,
        "description": proposal.description,
        "proposal": proposal.pk,
    }


def _proposal_or_404(pk):
    try:
        return proposal_get(pk=pk)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc


def _proposal_or_none(pk):
    try:
        return proposal_get(pk=int(pk)) if pk else None
    except (NotFoundError, ValueError):
        return None


# --- Listing imports ------------------------------------------------------------------

IMPORT_PAGE_SIZE = 50


@login_required
@require_http_methods(["GET", "POST"])
def listing_import_upload(request):
    """Upload a catalogue (a CSV and a zip of photos); the seller's recent imports."""
    form = ListingImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            listing_import = listing_import_create(
                seller=request.user,
                csv_file=form.cleaned_data["csv"],
                zip_file=form.cleaned_data["zip"],
            )
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            return redirect(listing_import)
    imports = listing_import_list_for_seller(user=request.user)[:10]
    return render(
        request,
        "catalog/listing_import_form.html",
        {
            "form": form,
            "imports": imports,
            "max_rows": f"{settings.LISTING_IMPORT_MAX_ROWS:,}",
        },
    )


@login_required
@require_GET
def listing_import_detail(request, pk: int):
    """The import: its progress while the model suggests, then its rows (flagged
    first) to review, filter, change, accept in bulk and confirm."""
    listing_import = _get_or_404(listing_import_get_owned_by, request.user, pk)
    filters = ListingImportFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    category = chosen.get("category")
    rows = listing_import_rows_for_review(
        listing_import=listing_import,
        decision=chosen.get("decision") or None,
        category_id=category.pk if category else None,
    )
    page = Paginator(rows, IMPORT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "catalog/listing_import_detail.html",
        {
            "listing_import": listing_import,
            "progress": listing_import_progress(listing_import=listing_import),
            "filters": filters,
            "page": page,
            "query": query.urlencode(),
            "categories": ListingImportRowForm().fields["category"].queryset,
        },
    )


@login_required
@require_GET
def listing_import_progress_view(request, pk: int):
    """The progress bar, polled while the model suggests or the products are listed;
    once that is over the page reloads (``HX-Refresh``) to show the rows."""
    listing_import = _get_or_404(listing_import_get_owned_by, request.user, pk)
    if listing_import.status not in ("uploaded", "suggesting", "confirming"):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(
        request,
        "catalog/_listing_import_progress.html",
        {
            "listing_import": listing_import,
            "progress": listing_import_progress(listing_import=listing_import),
        },
    )


@login_required
@require_GET
def listing_import_row_photo(request, pk: int, row_pk: int):
    listing_import = _get_or_404(listing_import_get_owned_by, request.user, pk)
    row = listing_import.rows.filter(pk=row_pk).first()
    if row is None or not row.image or not default_storage.exists(row.image):
        raise Http404("This row has no photo.")
    return FileResponse(default_storage.open(row.image, "rb"))


@login_required
@require_http_methods(["POST"])
def listing_import_row_choose_view(request, pk: int, row_pk: int):
    listing_import = _get_or_404(listing_import_get_owned_by, request.user, pk)
    form = ListingImportRowForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the categories.")
    else:
        try:
            row = listing_import_row_choose(
                listing_import=listing_import,
                row_id=row_pk,
                category=form.cleaned_data["category"],
            )
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"Line {row.line}: {row.category.name} ({row.decision})."
            )
    return _back_to_review(request, listing_import)


@login_required
@require_http_methods(["POST"])
def listing_import_accept_view(request, pk: int):
    """Bulk accept: every flagged row takes its first suggestion."""
    listing_import = _get_or_404(listing_import_get_owned_by, request.user, pk)
    try:
        accepted = listing_import_rows_accept(listing_import=listing_import)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{accepted} flagged row{'s' if accepted != 1 else ''} accepted."
        )
    return _back_to_review(request, listing_import)


@login_required
@require_http_methods(["POST"])
def listing_import_confirm_view(request, pk: int):
    """Claim the import and queue the listing of its products on a worker; the
    import's page shows the progress until they are listed."""
    listing_import = _get_or_404(listing_import_get_owned_by, request.user, pk)
    try:
        listing_import_confirm_enqueue(listing_import=listing_import, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Import confirmed: listing your products…")
    return redirect(listing_import)


def _back_to_review(request, listing_import):
    """Back to the review page with its filters and page (``next``: a query string
    of the same page only)."""
    query = request.POST.get("next", "")
    url = listing_import.get_absolute_url()
    return redirect(f"{url}?{query}" if query and "//" not in query else url)
