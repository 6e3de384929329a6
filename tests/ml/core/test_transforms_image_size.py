"""open_image refuses a photo over the pixel budget or with an extreme aspect ratio
from its header, before decoding a single row: feature extraction, training and
prediction never pay for a decompression bomb."""

import tracemalloc

import pytest
from PIL import Image

from ml.core.errors import InvalidImageError
from ml.core.transforms import (
    MAX_IMAGE_ASPECT_RATIO,
    MAX_IMAGE_PIXELS,
    check_image_size,
    open_image,
)
from tests.images import blank_png_bytes, narrow_png_bytes, thread_png_bytes


def _images_allocated() -> int:
    """How many image memories Pillow has allocated in this process."""
    return Image.core.get_stats()["new_count"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (narrow_png_bytes, "image is too elongated (2 x 20000, more than 10:1)"),
        (
            thread_png_bytes,
            "image has too many pixels (1 x 39000000, more than 25000000)",
        ),
    ],
)
def test_open_image_refuses_a_bomb_from_its_header(make, message):
    # Given a tiny file that decodes to a huge or absurdly narrow image
    data = make()
    allocated = _images_allocated()
    tracemalloc.start()
    try:
        # When it is opened for the image branch
        with pytest.raises(InvalidImageError) as caught:
            open_image(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then it is refused with the reason, no image memory was allocated, and Python
    # allocated well under a megabyte on top of the file itself
    assert str(caught.value) == message
    assert _images_allocated() == allocated
    assert peak < len(data) + 1_000_000


def test_open_image_decodes_a_photo_within_the_limits():
    # Given a 100 x 10 photo (10:1, the largest ratio allowed)
    allocated = _images_allocated()
    # When it is opened
    img = open_image(blank_png_bytes(100, 10))
    # Then it is decoded (the allocation count above does move for a real decode)
    assert (img.mode, img.size) == ("RGB", (100, 10))
    assert _images_allocated() > allocated


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ((5_000, 5_000), None),
        ((5_000, 5_001), "image has too many pixels (5000 x 5001, more than 25000000)"),
        ((10, 100), None),
        ((10, 101), "image is too elongated (10 x 101, more than 10:1)"),
        ((0, 10), "image has no pixels (0 x 10)"),
    ],
)
def test_check_image_size_bounds(size, message):
    assert (MAX_IMAGE_PIXELS, MAX_IMAGE_ASPECT_RATIO) == (25_000_000, 10.0)
    if message is None:
        assert check_image_size(*size) is None
    else:
        with pytest.raises(InvalidImageError) as caught:
            check_image_size(*size)
        assert str(caught.value) == message
