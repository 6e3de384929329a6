"""Synthetic, clearly learnable data for the pure-ML tests (no Django)."""

from __future__ import annotations

import io
import random

from PIL import Image

from ml.core.config import TrainingConfig
from ml.core.data import Sample

KEYWORDS = {
    "books": ["roman", "livre", "poche"],
    "games": ["console", "manette", "jeu"],
    "kitchen": ["casserole", "poele", "couteau"],
}
COLOURS = {"books": (200, 30, 30), "games": (30, 200, 30), "kitchen": (30, 30, 200)}
FILLER = ["super", "neuf", "qualite", "rouge", "grand", "petit", "lot", "de", "pour"]


def tiny_config(**overrides) -> TrainingConfig:
    """A seconds-fast configuration for the test data."""
    values = {
        "epochs": 12,
        "batch_size": 16,
        "lr": 1e-2,
        "text_batch_size": 16,
        "text_lr": 1e-2,
        "patience": 3,
        "vocab_size": 120,
        "min_frequency": 1,
        "embed_dim": 16,
        "hidden_size": 16,
        "dropout": 0.1,
        "image_hidden": 16,
        "image_dropout": 0.1,
        "device": "cpu",
    }
    values.update(overrides)
    return TrainingConfig(**values)


def photo_bytes(colour: tuple[int, int, int], *, seed: int, size: int = 48) -> bytes:
    """A small JPEG of one colour with a little noise."""
    rng = random.Random(seed)
    img = Image.new("RGB", (size, size), colour)
    pixels = img.load()
    for _ in range(size * 4):
        x, y = rng.randrange(size), rng.randrange(size)
        pixels[x, y] = tuple(min(255, c + rng.randrange(60)) for c in colour)
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def text_samples(n_per_class: int = 30, *, seed: int = 0) -> list[Sample]:
    """Titles hold a category keyword among filler words; some have HTML."""
    rng = random.Random(seed)
    samples = []
    for label, words in sorted(KEYWORDS.items()):
        for i in range(n_per_class):
            title = " ".join(rng.sample(FILLER, 3) + [rng.choice(words)])
            description = f"<p>{rng.choice(FILLER)} &amp; {rng.choice(FILLER)}</p>"
            samples.append(
                Sample(
                    title=title, description=description if i % 2 else None, label=label
                )
            )
    rng.shuffle(samples)
    return samples


def multimodal_samples(n_per_class: int = 16, *, seed: int = 0) -> list[Sample]:
    """Text and photo both tell the category; some photos are missing."""
    samples = []
    for i, sample in enumerate(text_samples(n_per_class, seed=seed)):
        image = None
        if i % 5 != 4:
            image = photo_bytes(COLOURS[sample.label], seed=i)
        samples.append(
            Sample(
                title=sample.title,
                description=sample.description,
                image=image,
                label=sample.label,
            )
        )
    return samples


def handmade_result(
    *,
    backbone_spec=None,
    random_backbone: bool = False,
    fusion_weight: float = 0.6,
    seed: int = 0,
):
    """An untrained but complete ``TrainingResult`` (no training needed)."""
    import torch

    from ml.core.config import TrainingResult
    from ml.core.networks import image_head, text_classifier
    from ml.core.transforms import preprocessing_config, train_tokenizer

    torch.manual_seed(seed)
    labels = sorted(KEYWORDS)
    corpus = [" ".join(words + FILLER) for words in KEYWORDS.values()]
    tokenizer = train_tokenizer(corpus, vocab_size=80, min_frequency=1)
    text_config = {
        "vocab_size": len(tokenizer),
        "num_classes": len(labels),
        "embed_dim": 8,
        "hidden_size": 8,
        "dropout": 0.0,
        "pad_index": 0,
        "pooling": "last",
    }
    head = head_config = provenance = backbone_state = None
    if backbone_spec is not None:
        head_config = {
            "in_features": backbone_spec.feature_dim,
            "num_classes": len(labels),
            "hidden": 8,
            "dropout": 0.0,
        }
        head = image_head(**head_config).eval()
        provenance = dict(backbone_spec.provenance)
        if random_backbone:
            backbone_state = backbone_spec.module.state_dict()
    metrics = {"fused": {"weighted_f1": 0.5}, "text": None, "image": None}
    return TrainingResult(
        labels=labels,
        tokenizer=tokenizer,
        text_net=text_classifier(**text_config).eval(),
        text_net_config=text_config,
        image_head=head,
        image_head_config=head_config,
        backbone_provenance=provenance,
        backbone_state_dict=backbone_state,
        fusion_weight=fusion_weight if head is not None else 1.0,
        metrics=metrics,
        lineage={"dataset_hash": "0" * 64, "class_counts": {}},
        preprocessing=preprocessing_config(max_length=50),
        config={"seed": seed},
    )
