from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import SellerSignUpForm
from accounts.models import User
from accounts.services import user_create
from rakuten.exceptions import ApplicationError
from rakuten.throttling import rate_limit


@require_http_methods(["GET", "POST"])
@rate_limit("signup")
def signup(request):
    """Seller sign-up: the form validates, the service creates, then the seller is
    in."""
    if request.user.is_authenticated:
        return redirect("home")
    form = SellerSignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                role=User.Role.SELLER,
                validate=False,  # the form already ran the password validators
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.username}!")
            return redirect("home")
    return render(request, "registration/signup.html", {"form": form})
