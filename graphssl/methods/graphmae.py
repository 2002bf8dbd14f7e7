"""GraphMAE: masked feature reconstruction with a re-masked GNN decoder."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv, GINConv

from ..augment.base import randperm, shallow_copy
from ..checks import check_number
from ..encoders import build_encoder, encode
from ..encoders.gnn import make_activation
from ..objectives import SCE
from ..sparse import is_csr
from .base import Method
from .registry import register_method
from .two_view import embedding_dim_of


class GINDecoder(nn.Module):
    """GraphMAE's one-layer GIN decoder: a GIN convolution whose MLP is ``Linear -> [BatchNorm]
    -> activation -> Linear`` (hidden width ``hidden_channels``, linear output).

    Shapes: ``x [N, in_channels]``, ``edge_index [2, E]`` -> ``[N, out_channels]``.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int | None = None,
                 activation: str = "prelu", batch_norm: bool = True, train_eps: bool = False):
        super().__init__()
        hidden = hidden_channels or in_channels
        layers = [nn.Linear(in_channels, hidden)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden))
        layers += [make_activation(activation, hidden), nn.Linear(hidden, out_channels)]
        self.conv = GINConv(nn.Sequential(*layers), train_eps=train_eps)
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x, edge_index):
        return self.conv(x, edge_index)


def _build_decoder(config: dict | None, hidden: int, in_channels: int, activation: str,
                   batch_norm: bool) -> nn.Module:
    """A one-layer GNN from ``hidden`` back to the ``in_channels`` input features."""
    dec = dict(type="gat")
    dec.update(config or {})
    kind = str(dec.pop("type")).lower()
    if kind == "gin":
        dec.setdefault("hidden_channels", hidden)
        dec.setdefault("activation", activation)
        dec.setdefault("batch_norm", batch_norm)
        return GINDecoder(hidden, in_channels, **dec)
    for key in ("hidden_channels", "out_channels", "num_layers"):
        if key in dec:
            raise ValueError(f"the decoder is one layer from the encoder's output to the "
                             f"{in_channels} input features; remove decoder {key}={dec[key]!r}")
    # no activation after the (only) layer: the reconstruction is linear in the last layer
    dec.update(num_layers=1, act_last=False, sparse_input=False)
    return build_encoder(kind, hidden, hidden_channels=in_channels, **dec)


def _set_attention_dropout(module: nn.Module, p: float) -> None:
    """Dropout ``p`` on the attention coefficients of every ``GATConv`` of ``module`` (the
    authors' ``attn_drop``; GNNEncoder's own ``dropout`` is the feature dropout)."""
    check_number("attention_dropout", p, low=0, high=1, high_open=True)
    for m in module.modules():
        if isinstance(m, GATConv):
            m.dropout = float(p)


@register_method("graphmae")
class GraphMAE(Method):
    r"""GraphMAE (Hou et al., "GraphMAE: Self-Supervised Masked Graph Autoencoders", KDD 2022).

    A masked autoencoder of node features, following the authors' code
    (github.com/THUDM/GraphMAE, ``PreModel.mask_attr_prediction``):

    1. **mask**: a random subset of :math:`\lfloor \text{mask\_rate} \cdot N \rfloor` nodes
       (at least one; drawn from ``generator``) is chosen; their input features are replaced by
       a learnable ``[1, F]`` mask token (initialised to zeros, as the authors'
       ``enc_mask_token``). With ``replace_rate`` > 0, :math:`\lfloor \text{replace\_rate}
       \cdot M \rfloor` of the :math:`M` masked nodes get the features of random nodes of the
       graph instead (the authors' "mask token + random replacement"); the other masked nodes
       get the token;
    2. **encode** the masked graph with ``encoder``;
    3. ``encoder_to_decoder``: a linear map without bias;
    4. **re-mask**: the masked nodes' hidden rows are set to zero, so the decoder must
       reconstruct them from their neighbours;
    5. **decode** with a one-layer GNN (GAT in the paper's node experiments, GIN in its graph
       experiments) back to the ``F`` input features;
    6. the loss is the scaled cosine error (:class:`~graphssl.objectives.SCE`) between the
       reconstruction and the original features **of the masked nodes only**.

    Evaluation embeddings are the encoder's output on the un-masked graph. A batch of graphs is
    masked as one graph (as the authors' batched DGL graphs): one draw over all its nodes, and a
    replaced node may take another graph's features. Everything is vectorised.

    Differences from the authors' code: ``replace_rate`` nodes are :math:`\lfloor r M \rfloor`
    and the token nodes the remaining :math:`M - \lfloor r M \rfloor` (the authors take
    :math:`\lfloor (1 - r) M \rfloor` token nodes, which can leave one masked node with zero
    features and no token). The authors' optional edge dropping (``drop_edge_rate``, 0 in all
    their configs) is not offered. GraphMAE2's latent-prediction term (Hou et al., WWW 2023)
    is not implemented.

    Sparse CSR features are made dense in :meth:`loss` (masking writes whole rows); the
    :meth:`from_config` encoders use ``sparse_input=False`` so ``graphssl pretrain`` keeps ``x``
    dense.

    Args:
        encoder: any module ``(x, edge_index, ...) -> [N, d]``.
        decoder: any module ``(h, edge_index) -> [N, F]`` taking the ``d``-dim hidden rows.
        mask_rate: fraction of nodes masked, in ``(0, 1)``.
        replace_rate: fraction of the masked nodes given random nodes' features instead of the
            mask token, in ``[0, 1)``.
        alpha: the SCE exponent (>= 1).
        input_dropout: dropout on the (masked) input features and on the decoder's input, in
            ``[0, 1)``; the authors' ``in_drop`` drops the input of every GNN layer, the layers
            after the first being covered by the encoder's own ``dropout``.
        in_channels: ``F`` (read from ``encoder.in_channels`` if omitted).
        embedding_dim: ``d`` (read from ``encoder.out_channels`` if omitted).
        target_features: reconstruct only the first ``K`` input features (default: all
            ``F``); the decoder then outputs ``K``. On one-hot molecule features
            (:class:`~graphssl.data.OneHotCategorical`) ``K = 119`` is the atomic number, the
            target of the authors' molecule pretraining (their ``chem/pretraining.py``); the
            whole masked row is still replaced by the token.

    Shapes: a graph or ``Batch`` with ``x [N, F]`` -> scalar; :meth:`embed` gives ``[N, d]``.

    Example:
        >>> enc = GATEncoder(1433, 512, num_layers=2, heads=4)
        >>> dec = GATEncoder(512, 1433, num_layers=1, act_last=False)
        >>> method = GraphMAE(enc, dec, mask_rate=0.5, replace_rate=0.05, alpha=3)
        >>> loss = method.loss(data, generator)
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, mask_rate: float = 0.5,
                 replace_rate: float = 0.0, alpha: float = 2.0, input_dropout: float = 0.0,
                 in_channels: int | None = None, embedding_dim: int | None = None,
                 target_features: int | None = None):
        super().__init__(encoder)
        if not isinstance(decoder, nn.Module):
            raise TypeError(f"decoder must be a torch.nn.Module, got {type(decoder).__name__}")
        self.mask_rate = check_number("mask_rate", mask_rate, low=0, high=1, low_open=True,
                                      high_open=True)
        self.replace_rate = check_number("replace_rate", replace_rate, low=0, high=1,
                                         high_open=True)
        self.input_dropout = check_number("input_dropout", input_dropout, low=0, high=1,
                                          high_open=True)
        dim = embedding_dim_of(encoder, embedding_dim)
        features = in_channels or getattr(encoder, "in_channels", None)
        if not isinstance(features, int) or features < 1:
            raise ValueError("in_channels must be given when the encoder has no in_channels")
        target = features if target_features is None else target_features
        if isinstance(target, bool) or not isinstance(target, int) or not 1 <= target <= features:
            raise ValueError(f"target_features must be an integer in [1, {features}] (the "
                             f"leading input features to reconstruct), got {target_features!r}")
        out = getattr(decoder, "out_channels", None)
        if isinstance(out, int) and out != target:
            raise ValueError(f"the decoder must reconstruct the {target} target features, its "
                             f"out_channels is {out}")
        self.in_channels, self.target_features = features, target
        self.decoder = decoder
        self.enc_mask_token = nn.Parameter(torch.zeros(1, features))
        dec_in = getattr(decoder, "in_channels", None)
        self.encoder_to_decoder = nn.Linear(dim, dec_in if isinstance(dec_in, int) else dim,
                                            bias=False)
        self.objective = SCE(alpha)

    def mask(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """``(masked_x, masked_nodes)``: ``x`` with the masked rows replaced (token or random
        node's features), and the ids of all masked nodes (token and replaced ones). ``x`` is
        not modified. :meth:`loss` draws its mask with this method first, so the same generator
        state gives the same masked nodes."""
        n = x.size(0)
        if n == 0:
            raise ValueError("GraphMAE needs at least one node to mask, got an empty graph")
        num_mask = min(n, max(1, int(self.mask_rate * n)))
        perm = randperm(n, generator, x.device)
        masked = perm[:num_mask]
        num_noise = int(self.replace_rate * num_mask)
        out = x.clone()
        if num_noise > 0:
            order = randperm(num_mask, generator, x.device)
            token_nodes, noise_nodes = masked[order[num_noise:]], masked[order[:num_noise]]
            sources = randperm(n, generator, x.device)[:num_noise]
            out[noise_nodes] = x[sources]
        else:
            token_nodes = masked
        # index_put, not in-place on a view: the token receives the gradient of every row
        out = out.index_put((token_nodes,), self.enc_mask_token.to(x.dtype).expand(
            token_nodes.numel(), -1))
        return out, masked

    def reconstruct(self, batch, generator: torch.Generator | None = None):
        """``(reconstruction [N, F], masked_nodes)``: steps 1-5 of the recipe."""
        x = getattr(batch, "x", None)
        if x is None:
            raise ValueError("GraphMAE reconstructs node features (data.x is None); add default "
                             "features first, e.g. graphssl.data.ensure_features(data)")
        if is_csr(x):
            x = x.to_dense()
        masked_x, masked = self.mask(x, generator)
        view = shallow_copy(batch)
        view.x = F.dropout(masked_x, p=self.input_dropout, training=self.training)
        hidden = self.encoder_to_decoder(encode(self.encoder, view))
        hidden = hidden.index_fill(0, masked, 0.0)  # re-mask
        view.x = F.dropout(hidden, p=self.input_dropout, training=self.training)
        return encode(self.decoder, view), masked

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        recon, masked = self.reconstruct(batch, generator)
        x = batch.x.to_dense() if is_csr(batch.x) else batch.x
        return self.objective(recon[masked], x[masked, :self.target_features])

    @classmethod
    def _build(cls, in_channels: int, enc: dict, decoder: dict | None,
               attention_dropout: float | None, target_features: int | None = None, **kwargs):
        enc = dict(enc)
        encoder = build_encoder(enc.pop("type"), in_channels, **enc)
        dim = encoder.out_channels
        out = in_channels if target_features is None else target_features
        dec = _build_decoder(decoder, dim, out, enc.get("activation", "prelu"),
                             enc.get("batch_norm", False))
        if attention_dropout is not None:
            _set_attention_dropout(encoder, attention_dropout)
            _set_attention_dropout(dec, attention_dropout)
        return cls(encoder, dec, in_channels=in_channels, target_features=target_features,
                   **kwargs)

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None,
                    decoder: dict | None = None, mask_rate: float = 0.5,
                    replace_rate: float = 0.0, alpha: float = 2.0, input_dropout: float = 0.0,
                    attention_dropout: float | None = None) -> "GraphMAE":
        """Encoder config (GAT with 512 PReLU units in 4 heads, 2 layers by default; always
        ``sparse_input=False``), decoder config (``type`` ``'gat'`` (default), ``'gcn'``,
        ``'sage'`` or ``'gin'``, plus that layer's options such as ``heads``), the masking and
        loss settings, and ``attention_dropout`` for every GAT layer (encoder and decoder)."""
        enc = dict(type="gat", hidden_channels=512, num_layers=2, heads=4, activation="prelu")
        enc.update(encoder or {})
        enc["sparse_input"] = False  # masking replaces whole rows: x stays dense
        return cls._build(in_channels, enc, decoder, attention_dropout, mask_rate=mask_rate,
                          replace_rate=replace_rate, alpha=alpha, input_dropout=input_dropout)


@register_method("graphmae-graph")
class GraphMAEGraph(GraphMAE):
    r"""GraphMAE for graph classification (Hou et al., KDD 2022, Section 4.2): the same masked
    feature reconstruction (:class:`GraphMAE`) with a GIN encoder and a one-layer GIN decoder,
    trained on batches of graphs; graph embeddings (:meth:`embed_graphs`) pool the encoder's
    node embeddings with ``graph_readout`` (the authors' ``pooling``: mean, sum or max per
    dataset).

    graphssl's graph-level methods train on batches of at least 2 graphs; :meth:`loss` refuses a
    single graph (use the node-level ``graphmae`` for one graph).

    Args:
        graph_readout: ``'mean'`` (default), ``'sum'`` or ``'max'``.
        others: as :class:`GraphMAE`.

    Example:
        >>> method = GraphMAEGraph.from_config(7, encoder={'hidden_channels': 32, 'num_layers': 5},
        ...                                    mask_rate=0.75, graph_readout='sum')
        >>> Trainer(epochs=20, lr=5e-4).fit(method, DataLoader(mutag, batch_size=64))
    """

    level = "graph"

    def __init__(self, encoder: nn.Module, decoder: nn.Module, graph_readout: str = "mean",
                 **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        from ..encoders import Readout
        Readout(graph_readout)  # validates the name
        self.graph_readout = graph_readout

    def loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        if getattr(batch, "batch", None) is None or batch.num_graphs < 2:
            raise ValueError("graphmae-graph trains on batches of graphs: it needs a Batch of at "
                             "least 2 graphs (use batch_size >= 2, or the node-level graphmae "
                             "for a single graph)")
        return super().loss(batch, generator)

    @classmethod
    def from_config(cls, in_channels: int, encoder: dict | None = None,
                    decoder: dict | None = None, mask_rate: float = 0.5,
                    replace_rate: float = 0.0, alpha: float = 2.0, input_dropout: float = 0.0,
                    attention_dropout: float | None = None, graph_readout: str = "mean",
                    target_features: int | None = None) -> "GraphMAEGraph":
        """GIN encoder (512 PReLU units, 2 layers, batch norm by default) and GIN decoder."""
        enc = dict(type="gin", hidden_channels=512, num_layers=2, activation="prelu",
                   batch_norm=True)
        enc.update(encoder or {})
        enc["sparse_input"] = False
        dec = dict(type="gin")
        dec.update(decoder or {})
        return cls._build(in_channels, enc, dec, attention_dropout, mask_rate=mask_rate,
                          replace_rate=replace_rate, alpha=alpha, input_dropout=input_dropout,
                          graph_readout=graph_readout, target_features=target_features)
