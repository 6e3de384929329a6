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


def test_feature_extraction_skips_the_bombs_without_decoding_them(tmp_path):
    # Given training photos among which the two bombs, and a toy backbone
    import torch
    from torch import nn

    from ml.core.backbones import BackboneSpec
    from ml.core.features import extract_features

    class MeanColour(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1), requires_grad=False)

        def forward(self, images):
            return images.mean(dim=(2, 3)) * self.scale

    spec = BackboneSpec(
        name="toy",
        module=MeanColour(),
        feature_dim=3,
        provenance={"backbone": "toy", "source": "random", "state_sha256": "cd" * 32},
    )
    images = [narrow_png_bytes(), blank_png_bytes(40, 30), thread_png_bytes()]
    allocated = _images_allocated()
    # When their features are extracted (as training does: invalid photos skipped)
    features, has_image = extract_features(spec, images, None)
    # Then the bombs count as "no photo", only the real photo was decoded (one image,
    # then its RGB copy and resized/cropped versions: a handful, not the bombs)
    assert has_image.tolist() == [False, True, False]
    assert torch.equal(features[0], torch.zeros(3))
    assert 0 < _images_allocated() - allocated < 10
