"""Forms of the catalogue pages: they validate; the services save."""

from django import forms
from django.conf import settings
from django.urls import reverse_lazy

from catalog.images import InvalidImageError, image_check
from catalog.selectors import category_list
from rakuten.exceptions import ApplicationError
from rakuten.forms import BootstrapFormMixin
from rakuten.ids import MAX_ID


def photo_validate(upload):
    """Check an uploaded photo with the same rules as the services (format, size,
    complete file, extension matching its content)."""
    if not upload:
        return upload
    upload.seek(0)
    try:
        image_check(
            upload.read(),
            filename=upload.name or "",
            max_bytes=settings.PRODUCT_IMAGE_MAX_BYTES,
        )
    except InvalidImageError as exc:
        raise forms.ValidationError(exc.message, code=exc.code) from exc
    finally:
        upload.seek(0)
    return upload


class ProductForm(BootstrapFormMixin, forms.Form):
    """A product's title, description, photo and confirmed category."""

    title = forms.CharField(max_length=500, min_length=3)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    photo = forms.FileField(
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        help_text="JPEG, PNG or WebP.",
    )
    category = forms.ModelChoiceField(queryset=category_list(), empty_label="—")

    def clean_photo(self):
        return photo_validate(self.cleaned_data.get("photo"))


class ProductFilterForm(BootstrapFormMixin, forms.Form):
    """Search and category filter of the product list (GET)."""

    q = forms.CharField(required=False, label="Search")
    category = forms.ModelChoiceField(
        queryset=category_list(), required=False, empty_label="All categories"
    )


def form_add_service_error(form: forms.Form, exc: ApplicationError) -> None:
    """Show a service's refusal on the form: on the fields it names, on the photo for
    an invalid photo, otherwise above the form."""
    if isinstance(exc, InvalidImageError) and "photo" in form.fields:
        form.add_error("photo", exc.message)
        return
    # Errors on hidden fields (such as the prediction id) show above the form.
    fields = {
        name: errors
        for name, errors in exc.extra.items()
        if name in form.fields and not form.fields[name].widget.is_hidden
    }
    for name, errors in fields.items():
        form.add_error(name, errors)
    if not fields:
        form.add_error(None, exc.message)


# Typing in the title or description, or choosing a photo, asks the model (ml's
# suggestion endpoint, by URL name) for suggestions.
SUGGESTION_TRIGGERS = {
    "title": "keyup changed delay:400ms, change",
    "description": "keyup changed delay:400ms, change",
    "photo": "change",
}


CHOICE_SOURCES = [("suggestion", "A suggestion"), ("list", "The list")]


class ListingForm(ProductForm):
    """The Sell form. The seller's choice is explicit: ``choice_source`` (a
    ``suggestion`` radio or the ``list``), ``choice_rank`` (the suggestion's 1-based
    rank) and ``choice_category``, written by the page's script whenever the seller
    ticks a suggestion or picks from the list, and never by new suggestions arriving
    afterwards. ``prediction`` is the stored prediction that was on screen when the
    seller chose; ``proposal`` the unlabelled product the form was filled from.

    Without the script (no choice posted), the category comes from the suggestion
    radios (``category``) or the searchable list (``other_category``)."""

    category = forms.ModelChoiceField(queryset=category_list(), required=False)
    other_category = forms.ModelChoiceField(
        queryset=category_list(),
        required=False,
        label="Any category",
        empty_label="— choose a category —",
    )
    choice_source = forms.ChoiceField(
        choices=[("", "")] + CHOICE_SOURCES, required=False, widget=forms.HiddenInput
    )
    choice_rank = forms.IntegerField(
        required=False, min_value=1, max_value=1000, widget=forms.HiddenInput
    )
    choice_category = forms.ModelChoiceField(
        queryset=category_list(), required=False, widget=forms.HiddenInput
    )
    prediction = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
    proposal = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )

    field_order = ["title", "description", "photo", "category", "other_category"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Typing in the title or description, or choosing a photo, posts the whole
        # form (photo included) to the suggestion endpoint, debounced.
        for name, trigger in SUGGESTION_TRIGGERS.items():
            self.fields[name].widget.attrs.update(
                {
                    "hx-post": reverse_lazy("ml:suggestions"),
                    "hx-trigger": trigger,
                    "hx-target": "#suggestions",
                    "hx-include": "closest form",
                    "hx-encoding": "multipart/form-data",
                    "hx-sync": "closest form:replace",
                    "hx-indicator": "#suggest-indicator",
                }
            )
        # The browser checks a photo's size and type before uploading it.
        self.fields["photo"].widget.attrs["data-max-bytes"] = (
            settings.PRODUCT_IMAGE_MAX_BYTES
        )

    def clean(self):
        cleaned = super().clean()
        source = cleaned.get("choice_source")
        if source:
            chosen = cleaned.get("choice_category")
            if source == "suggestion":
                if not cleaned.get("choice_rank") or not cleaned.get("prediction"):
                    self.add_error(
                        None, "Your choice of suggestion is incomplete: choose again."
                    )
            else:
                cleaned["choice_rank"] = None
        else:
            # No script: the ticked radio is a suggestion (its rank is derived from
            # the prediction), the list is the list.
            radio = cleaned.get("category")
            chosen = radio or cleaned.get("other_category")
            source = "suggestion" if radio is not None else "list"
            cleaned["choice_rank"] = None
        if chosen is None and not self.has_error("category"):
            self.add_error(
                "other_category", "Choose a category: a suggestion or one of the list."
            )
        cleaned["category"] = chosen
        cleaned["choice_source"] = source
        return cleaned


# --- Listing imports ------------------------------------------------------------------


class ListingImportForm(BootstrapFormMixin, forms.Form):
    """A seller's catalogue: the CSV and the zip of the photos it names (the
    service checks both)."""

    csv = forms.FileField(
        label="CSV file",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="Columns sku,title,description,image (UTF-8); image names a "
        "photo of the zip, or is empty.",
    )
    zip = forms.FileField(
        label="Photos (zip)",
        required=False,
        widget=forms.FileInput(attrs={"accept": ".zip,application/zip"}),
        help_text="JPEG, PNG or WebP photos, named as in the CSV's image column.",
    )


class ListingImportFilterForm(BootstrapFormMixin, forms.Form):
    """The review's filters (GET)."""

    decision = forms.ChoiceField(
        required=False,
        choices=[
            ("", "All rows"),
            ("flagged", "Flagged"),
            ("accepted", "Accepted"),
            ("changed", "Changed"),
        ],
    )
    category = forms.ModelChoiceField(
        queryset=category_list(), required=False, empty_label="All categories"
    )


class ListingImportRowForm(forms.Form):
    """One row's category, chosen by the seller."""

    category = forms.ModelChoiceField(queryset=category_list())
