"""Seller pages on their own products: list, detail, edit, delete. Selling a new
product (with the model's suggestions) is ``ml.views.listing_create``."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from catalog.forms import ProductFilterForm, ProductForm, form_add_service_error
from catalog.selectors import (
    product_get_owned_by,
    product_get_visible_to,
    product_list_visible_to,
)
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
