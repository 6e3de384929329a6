"""The client's address, the same for DRF's throttles, the page throttles and
django-axes' lock-outs.

Behind ``TRUSTED_PROXY_COUNT`` reverse proxies, each appending the address it received
the request from to ``X-Forwarded-For``, the client is the address the outermost
trusted proxy saw: the ``TRUSTED_PROXY_COUNT``-th entry from the right. Entries further
left were written by the client and prove nothing. With no trusted proxy (the default)
the header is ignored and the address is ``REMOTE_ADDR``: rotating the header then
changes nothing. This is DRF's ``NUM_PROXIES`` rule; the settings set both."""

from django.conf import settings


def client_ip(request) -> str:
    """The client's address for ``request`` (a Django or DRF request)."""
    remote_addr = request.META.get("REMOTE_ADDR") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote_addr
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not addresses:
        return remote_addr
    return addresses[-min(proxies, len(addresses))]
