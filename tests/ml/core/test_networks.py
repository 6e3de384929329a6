"""Shapes and padding behaviour of the networks."""

import pytest
import torch

from ml.core.networks import image_head, text_classifier


@pytest.mark.parametrize("pooling", ["last", "max"])
def test_text_classifier_outputs_one_logit_per_class(pooling):
    torch.manual_seed(0)
    net = text_classifier(
        vocab_size=30, num_classes=5, embed_dim=8, hidden_size=6, pooling=pooling
    )
    ids = torch.randint(1, 30, (4, 50))
    ids[1, 10:] = 0
    ids[2] = 0  # an empty text

    logits = net.eval()(ids)

    assert logits.shape == (4, 5)
    assert torch.isfinite(logits).all()


def test_text_classifier_reference_sizes():
    net = text_classifier(vocab_size=100, num_classes=27)

    assert net.embedding.weight.shape == (100, 512)
    assert net.gru_forward.hidden_size == net.gru_backward.hidden_size == 512
    assert net.classifier.in_features == 1024


@pytest.mark.parametrize("pooling", ["last", "max"])
def test_text_classifier_ignores_padding(pooling):
    torch.manual_seed(0)
    net = text_classifier(
        vocab_size=30, num_classes=3, embed_dim=8, hidden_size=6, pooling=pooling
    ).eval()
    batch = torch.tensor([[5, 6, 7, 0, 0, 0, 0, 0], [8, 9, 10, 11, 12, 13, 14, 15]])

    with torch.no_grad():
        together = net(batch)
        alone = net(batch[:1, :3])

    torch.testing.assert_close(together[0], alone[0], rtol=1e-5, atol=1e-6)


def test_text_classifier_matches_a_packed_bidirectional_gru():
    torch.manual_seed(0)
    net = text_classifier(
        vocab_size=30, num_classes=3, embed_dim=8, hidden_size=6, pooling="last"
    ).eval()
    gru = torch.nn.GRU(8, 6, batch_first=True, bidirectional=True)
    state = dict(net.gru_forward.state_dict())
    state.update({f"{k}_reverse": v for k, v in net.gru_backward.state_dict().items()})
    gru.load_state_dict(state)
    ids = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
    lengths = torch.tensor([3, 5])

    with torch.no_grad():
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            net.embedding(ids), lengths, batch_first=True, enforce_sorted=False
        )
        _, hidden = gru(packed)
        expected = net.classifier(torch.cat((hidden[0], hidden[1]), dim=1))
        got = net(ids)

    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("in_features", [1280, 25088])
def test_image_head_outputs_one_logit_per_class(in_features):
    head = image_head(in_features=in_features, num_classes=7).eval()

    logits = head(torch.randn(3, in_features))

    assert logits.shape == (3, 7)
    assert [m.out_features for m in head.layers if hasattr(m, "out_features")] == [
        512,
        512,
        7,
    ]
