"""Seed a fresh database for the production smoke test (tools/production_smoke.sh): a
seller and a staff user with a web session each, and a product of the seller. Prints
``SELLER_SESSION STAFF_SESSION PRODUCT_ID`` on one line."""

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import (  # noqa: E402
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
)
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402

from accounts.services import user_ensure_demo  # noqa: E402
from catalog.models import Category  # noqa: E402
from catalog.services.imports import demo_catalogue_ensure  # noqa: E402
from catalog.services.listings import listing_create  # noqa: E402


def session_of(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


seller, _ = user_ensure_demo(
    username="smoke-seller", password="smoke-pass-2026!", role="seller"
)
staff, _ = user_ensure_demo(
    username="smoke-staff", password="smoke-pass-2026!", role="staff"
)
demo_catalogue_ensure(per_category=1)
product = listing_create(
    seller=seller,
    title="Smoke test listing",
    category=Category.objects.filter(active=True).first(),
    choice_source="api",
)
print(session_of(seller), session_of(staff), product.pk)
