"""Text cleaning, tokenizer and image decoding shared by training and serving."""

import io
import json
import random
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from ml.core import transforms
from ml.core.errors import InvalidImageError
from ml.core.transforms import (
    IMAGE_SIZE,
    clean_text,
    encode_texts,
    image_tensor,
    load_tokenizer,
    open_image,
    product_text,
    save_tokenizer,
    train_tokenizer,
)
from tests.ml.core.samples import photo_bytes

CORPUS = [
    "Chaise en bois pour enfant",
    "Télévision écran plat",
    "chaise de jardin en métal",
    "Livre de poche roman policier",
    "roman jeunesse livre illustré",
] * 3


def test_clean_text_strips_html_entities_and_whitespace():
    raw = (
        "<p>Pull&nbsp;en <b>laine</b>&amp;coton</p>\n\t<br/>"
        "L&#39;été &lt;i&gt;x&lt;/i&gt;"
    )

    assert clean_text(raw) == "Pull en laine &coton L'été x"


def test_clean_text_keeps_comparison_signs_and_normalises_unicode():
    assert clean_text("taille < 3 ans > 1 an") == "taille < 3 ans > 1 an"
    assert clean_text("ﬁlm  ①") == "film 1"


def test_clean_text_of_none_and_blank_is_empty():
    assert clean_text(None) == ""
    assert clean_text("  <br>  ") == ""


def test_product_text_joins_title_and_description():
    assert product_text("Chaise", "<p>en bois</p>") == "Chaise en bois"
    assert product_text(None, " bois ") == "bois"
    assert product_text("", None) == ""


def test_tokenizer_round_trip_offline_gives_identical_ids(tmp_path):
    tokenizer = train_tokenizer(CORPUS, vocab_size=100, min_frequency=1)
    save_tokenizer(tokenizer, tmp_path / "tok")

    reloaded = load_tokenizer(tmp_path / "tok")

    texts = ["Chaise TÉLÉVISION", "inconnu zzz", ""]
    assert torch.equal(encode_texts(tokenizer, texts), encode_texts(reloaded, texts))
    assert reloaded.pad_token_id == 0
    assert reloaded.unk_token_id == 1


def test_tokenizer_training_is_deterministic():
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyzéè"
    corpus = [
        " ".join(
            "".join(rng.choice(letters) for _ in range(rng.randint(3, 9)))
            for _ in range(6)
        )
        for _ in range(60)
    ]

    vocabularies = {
        json.dumps(sorted(train_tokenizer(corpus, vocab_size=300).get_vocab().items()))
        for _ in range(5)
    }

    assert len(vocabularies) == 1  # WordPiece gives 5 different ones here


def test_tokenizer_lowercases_and_strips_accents():
    tokenizer = train_tokenizer(CORPUS, vocab_size=100, min_frequency=1)

    ids = encode_texts(tokenizer, ["Télévision", "television"], max_length=4)

    assert torch.equal(ids[0], ids[1])


def test_encode_texts_pads_and_truncates():
    tokenizer = train_tokenizer(CORPUS, vocab_size=100, min_frequency=1)
    long_text = " ".join(["chaise"] * 80)

    ids = encode_texts(tokenizer, ["chaise", long_text, ""], max_length=50)

    assert ids.shape == (3, 50)
    assert ids.dtype == torch.long
    assert (ids[0, 1:] == 0).all() and ids[0, 0] != 0
    assert (ids[1] != 0).all()
    assert (ids[2] == 0).all()


def test_encode_texts_in_chunks_gives_the_ids_of_one_call(monkeypatch):
    # given 7 texts of different lengths, one empty
    tokenizer = train_tokenizer(CORPUS, vocab_size=100, min_frequency=1)
    texts = [" ".join(["chaise", "table"][: i % 3] * i) for i in range(7)]
    whole = encode_texts(tokenizer, texts, max_length=6)

    # when the backend tokenizer is called 3 texts at a time
    monkeypatch.setattr(transforms, "ENCODE_CHUNK", 3)
    calls = []
    backend = tokenizer.backend_tokenizer

    def encode_batch(batch, **kwargs):
        calls.append(len(batch))
        return backend.encode_batch(batch, **kwargs)

    counting = SimpleNamespace(
        pad_token_id=tokenizer.pad_token_id,
        backend_tokenizer=SimpleNamespace(encode_batch=encode_batch),
    )
    chunked = encode_texts(counting, texts, max_length=6)

    # then the ids are the same, from calls of 3, 3 and 1 texts
    assert calls == [3, 3, 1]
    assert torch.equal(chunked, whole)
    assert (chunked[0] == 0).all() and (chunked[4] != 0).sum() == 4


def test_open_image_accepts_bytes_path_and_file_objects(tmp_path):
    data = photo_bytes((10, 20, 30), seed=0, size=32)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)

    images = [open_image(data), open_image(path), open_image(str(path))]
    images.append(open_image(io.BytesIO(data)))

    assert all(img.mode == "RGB" and img.size == (32, 32) for img in images)
    assert open_image(None) is None


def test_open_image_composites_transparency_on_white():
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")

    rgb = open_image(buffer.getvalue())

    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize("data", [b"not an image", b"\xff\xd8\xff\xe0broken", b""])
def test_open_image_refuses_undecodable_data(data):
    with pytest.raises(InvalidImageError):
        open_image(data)


def test_open_image_refuses_missing_file(tmp_path):
    with pytest.raises(InvalidImageError):
        open_image(tmp_path / "missing.jpg")


def test_image_tensor_is_normalised_224_square():
    img = Image.new("RGB", (300, 120), (124, 116, 104))  # ~ the ImageNet mean

    tensor = image_tensor(img)

    assert tensor.shape == (3, IMAGE_SIZE, IMAGE_SIZE)
    assert tensor.abs().max() < 0.02
