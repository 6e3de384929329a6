"""The BiGRU's regularisation options: embedding dropout, weight decay and label
smoothing (TrainingConfig's ``embedding_dropout``, ``text_weight_decay`` and
``text_label_smoothing``)."""

import pytest
import torch
import torch.nn.functional as F

from ml.core.config import TrainingConfig
from ml.core.engine import SampleWeightedCrossEntropy, _optimizer
from ml.core.networks import text_classifier


def _net(embedding_dropout: float):
    torch.manual_seed(0)
    return text_classifier(
        vocab_size=30,
        num_classes=3,
        embed_dim=8,
        hidden_size=6,
        embedding_dropout=embedding_dropout,
    )


def test_embedding_dropout_changes_nothing_at_serving_time():
    plain = _net(0.0).eval()
    dropping = _net(0.5).eval()
    dropping.load_state_dict(plain.state_dict())  # no parameter of its own
    ids = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])

    with torch.no_grad():
        torch.testing.assert_close(dropping(ids), plain(ids), rtol=0, atol=0)


def test_embedding_dropout_zeroes_whole_tokens_the_same_in_both_directions():
    net = _net(0.5).train()
    seen = {}
    net.gru_forward.register_forward_hook(
        lambda _m, args, _o: seen.__setitem__("forward", args[0])
    )
    net.gru_backward.register_forward_hook(
        lambda _m, args, _o: seen.__setitem__("backward", args[0])
    )
    ids = torch.tensor([[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]] * 4)
    torch.manual_seed(3)

    net(ids)

    forward, backward = seen["forward"], seen["backward"]
    embedded = net.embedding(ids).detach()
    dropped = (forward == 0).all(dim=2)
    kept = ~dropped
    assert 0 < int(dropped.sum()) < dropped.numel()
    # a token is either all zeros or its embedding scaled by 1 / (1 - 0.5)
    torch.testing.assert_close(forward[kept], 2 * embedded[kept])
    # the backward GRU reads the same tokens reversed, with the same ones dropped
    torch.testing.assert_close(backward, forward.flip(1))


def test_weight_decay_uses_adamw_and_no_decay_plain_adam():
    net = _net(0.0)
    decayed = _optimizer(net, TrainingConfig(weight_decay=0.01, lr=0.002))
    plain = _optimizer(net, TrainingConfig())

    assert type(decayed) is torch.optim.AdamW
    assert decayed.param_groups[0]["weight_decay"] == 0.01
    assert decayed.param_groups[0]["lr"] == 0.002
    assert type(plain) is torch.optim.Adam
    assert plain.param_groups[0]["weight_decay"] == 0


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_sample_weighted_loss_smooths_labels_as_pytorch_does(smoothing):
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, 0.0, 3.0]])
    targets = torch.tensor([0, 1, 2])
    classes = torch.ones(3)

    loss = SampleWeightedCrossEntropy(classes, smoothing)(
        logits, targets, torch.ones(3)
    )

    expected = F.cross_entropy(logits, targets, label_smoothing=smoothing)
    torch.testing.assert_close(loss, expected)
    if smoothing:  # a confident right answer still costs something
        assert float(loss) > float(F.cross_entropy(logits, targets))
