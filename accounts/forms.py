from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordChangeForm,
    UserCreationForm,
)

from accounts.models import User
from rakuten.forms import BootstrapFormMixin


class SellerSignUpForm(BootstrapFormMixin, UserCreationForm):
    """Seller self-registration: username, e-mail and a password twice."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


class LoginForm(BootstrapFormMixin, AuthenticationForm):
    pass


class PasswordChangeStyledForm(BootstrapFormMixin, PasswordChangeForm):
    pass
