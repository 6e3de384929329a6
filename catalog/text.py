"""Text as the product search compares it: lower case, without accents, whitespace
collapsed; the same on SQLite and MySQL/MariaDB, whatever their collation. Pure
functions (no Django): the services store ``product_search_text`` in
``Product.search_text``; the selectors normalise the query with ``search_normalise``.
"""

import unicodedata


def search_normalise(text: str) -> str:
    """``"  Jeu VIDÉO\\tœuvre"`` -> ``"jeu video œuvre"``: case folded, accents
    (combining marks after NFKD decomposition) dropped, runs of whitespace one space.
    """
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def product_search_text(title: str, description: str) -> str:
    """What a product is searched in: its normalised title and description, one a
    line (a query, being one line, never matches across the two)."""
    parts = (search_normalise(title), search_normalise(description))
    return "\n".join(part for part in parts if part)
