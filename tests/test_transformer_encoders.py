"""The shared Transformer core, its tokenizers, the graph Transformer and the ResNet."""
import pytest
import torch
from torch_geometric.data import Batch, Data

from graphssl.encoders import (ENCODERS, GraphTransformerEncoder, ImagePatches, ResNetEncoder,
                               TextTokens, TextTransformerEncoder, TransformerBlock,
                               VideoTransformerEncoder, VideoTubelets, ViTEncoder,
                               build_encoder, encode)


def test_patch_targets_follow_token_order():
    """Token k's embedding is the patch projection of exactly target row k's pixels."""
    torch.manual_seed(0)
    tok = ImagePatches(3, image_size=8, patch_size=4, dim=5)
    with torch.no_grad():
        tok.pos.weight.zero_()
        tok.proj.bias.zero_()
    x = torch.rand(2, 3, 8, 8)
    tokens, padding = tok(x)
    assert padding is None and tokens.shape == (2, 4, 5)
    expected = tok.targets(x) @ tok.proj.weight.view(5, -1).t()
    torch.testing.assert_close(tokens, expected, atol=1e-5, rtol=1e-5)
    # the second patch of the first row of patches is columns 4..7 of rows 0..3
    torch.testing.assert_close(tok.targets(x)[0, 1].view(3, 4, 4), x[0, :, :4, 4:])


def test_tubelet_targets_follow_token_order():
    torch.manual_seed(0)
    tok = VideoTubelets(1, frames=4, image_size=16, patch_size=8, tubelet_size=2, dim=3)
    with torch.no_grad():
        tok.pos.weight.zero_()
        tok.proj.bias.zero_()
    x = torch.rand(2, 4, 1, 16, 16)
    tokens, _ = tok(x)
    assert tokens.shape == (2, 8, 3) and tok.targets(x).shape == (2, 8, 128)
    torch.testing.assert_close(tokens, tok.targets(x) @ tok.proj.weight.view(3, -1).t(),
                               atol=1e-5, rtol=1e-5)


def test_padding_is_never_attended_to():
    """Changing what sits under padding changes nothing in the pooled text embedding."""
    torch.manual_seed(0)
    enc = TextTransformerEncoder(30, max_length=6, dim=16, depth=2, heads=2, dropout=0.0).eval()
    a = torch.tensor([[5, 6, 7, 0, 0, 0]])
    short = enc(a[:, :3])
    torch.testing.assert_close(enc(a), short, atol=1e-5, rtol=1e-5)
    block = TransformerBlock(16, heads=2).eval()
    x = torch.randn(1, 4, 16)
    pad = torch.tensor([[False, False, True, True]])
    y = x.clone()
    y[0, 2:] = 100.0
    torch.testing.assert_close(block(x, pad)[0, :2], block(y, pad)[0, :2])


def test_modality_encoders_shapes_and_pools():
    torch.manual_seed(0)
    assert ViTEncoder(1, 8, 2, dim=32, depth=1)(torch.rand(4, 1, 8, 8)).shape == (4, 32)
    assert ViTEncoder(3, 8, 4, dim=32, depth=1, pool="cls")(torch.rand(2, 3, 8, 8)).shape == \
        (2, 32)
    vid = VideoTransformerEncoder(1, frames=4, image_size=16, patch_size=8, dim=32, depth=1)
    assert vid(torch.rand(3, 4, 1, 16, 16)).shape == (3, 32)
    assert ResNetEncoder(1, widths=(8, 16))(torch.rand(4, 1, 16, 16)).shape == (4, 16)
    assert encode(ViTEncoder(1, 8, 2, dim=8, depth=1), torch.rand(2, 1, 8, 8)).shape == (2, 8)
    for name in ("vit", "resnet", "video-transformer", "text-transformer", "graph-transformer"):
        assert name in ENCODERS


def test_graph_transformer_keeps_graphs_apart():
    """A graph's node embeddings do not depend on the other graphs of its batch."""
    torch.manual_seed(0)
    enc = GraphTransformerEncoder(6, 16, num_layers=2, heads=2).eval()
    g1 = Data(x=torch.rand(5, 6), edge_index=torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]))
    g2 = Data(x=torch.rand(3, 6), edge_index=torch.tensor([[0, 1], [1, 2]]))
    batch = Batch.from_data_list([g1, g2])
    z = encode(enc, batch)
    assert z.shape == (8, 16)
    torch.testing.assert_close(z[:5], encode(enc, g1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(z[5:], encode(enc, g2), atol=1e-5, rtol=1e-5)
    assert build_encoder("graph-transformer", 6, hidden_channels=16).out_channels == 16


@pytest.mark.parametrize("make, message", [
    (lambda: ImagePatches(1, image_size=8, patch_size=3), "patch_size must divide image_size"),
    (lambda: VideoTubelets(1, frames=5, image_size=8, patch_size=4, tubelet_size=2),
     "tubelet_size must divide frames"),
    (lambda: TransformerBlock(30, heads=4), "divisible by heads"),
    (lambda: TextTokens(10, pad_id=10), "pad_id"),
    (lambda: ViTEncoder(1, 8, 2, pool="max"), "pool must be one of"),
    (lambda: build_encoder("vitt", 1), "Did you mean: vit"),
])
def test_bad_configuration_is_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_inputs_are_named():
    vit = ViTEncoder(1, 8, 2, dim=8, depth=1)
    with pytest.raises(ValueError, match="unsqueeze"):
        vit(torch.rand(1, 8, 8))
    with pytest.raises(ValueError, match="in_channels=3"):
        vit(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match="image_size=16"):
        vit(torch.rand(2, 1, 16, 16))
    vid = VideoTransformerEncoder(1, frames=4, image_size=8, patch_size=4, dim=8, depth=1)
    with pytest.raises(ValueError, match="TemporalCrop"):
        vid(torch.rand(2, 6, 1, 8, 8))
    text = TextTransformerEncoder(10, max_length=4, dim=8, depth=1)
    with pytest.raises(ValueError, match="padding only"):
        text(torch.tensor([[3, 4], [0, 0]]))
    with pytest.raises(ValueError, match="vocab_size=10"):
        text(torch.tensor([[3, 12]]))
    with pytest.raises(ValueError, match="int64"):
        text(torch.rand(2, 3))
    with pytest.warns(UserWarning, match="max_length=4"):
        out = text(torch.tensor([[3, 4, 5, 6, 7, 8]]))
    assert out.shape == (1, 8)


def test_graph_methods_take_the_graph_transformer():
    """A graph method's GNN configuration switches to the Transformer by its type alone."""
    from graphssl.data import csbm_graph
    from graphssl.methods import build_method
    csbm = csbm_graph(num_nodes=300, num_classes=3, num_features=16, seed=1)
    from graphssl.train import Trainer
    method = build_method("grace", csbm.num_features, encoder={"type": "graph-transformer",
                                                                "hidden_channels": 32,
                                                                "out_channels": 16})
    trainer = Trainer(epochs=3, lr=1e-3, seed=0, progress=False)
    trainer.fit(method, csbm)
    assert trainer.history[-1]["loss"] < trainer.history[0]["loss"]
    assert method.embed(csbm).shape == (csbm.num_nodes, 16)
