"""GNN encoders: stacks of PyG convolutions sharing one base class (as PyG's ``BasicGNN``),
with an activation after every layer (GRACE/DGI style) and a sparse-input fast path."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GINConv, GINEConv, SAGEConv
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.utils import to_torch_csr_tensor

from .. import sparse as _sparse  # noqa: F401  (silences torch's CSR beta warnings)
from ..checks import check_number, check_positive_int
from .attention_graph import AttentionGraph
from .gat_conv import FusedGATConv
from .gcn_conv import FusedGCNConv, GCNGraph


ACTIVATIONS = {"relu": nn.ReLU, "prelu": nn.PReLU, "prelu_shared": nn.PReLU, "elu": nn.ELU,
               "gelu": nn.GELU, "selu": nn.SELU, "tanh": nn.Tanh, "identity": nn.Identity}


def make_activation(name: str, channels: int) -> nn.Module:
    """The activation module for ``channels`` features. ``'prelu'`` learns one slope per
    channel; ``'prelu_shared'`` one slope for all channels (``nn.PReLU()``, as the DGI, GRACE
    and GraphMAE authors' code). With weight decay the difference matters: a per-channel slope
    decays towards 0 on its own, and a channel whose inputs are all negative then stops
    passing gradient and dies."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    if name == "prelu":
        return nn.PReLU(channels)
    return ACTIVATIONS[name]()


class SparseInputLinear(Linear):
    """PyG ``Linear`` that also accepts a sparse CSR input (bag-of-words features are ~99%
    zeros: a sparse product skips them). Same parameters and state-dict keys as ``Linear``."""

    def forward(self, x):
        if x.layout == torch.sparse_csr:
            out = torch.sparse.mm(x, self.weight.t())
            return out if self.bias is None else out + self.bias
        return super().forward(x)


class GNNEncoder(nn.Module):
    r"""A stack of ``num_layers`` graph convolutions, each followed by an activation.

    Sizes: ``in_channels -> hidden_channels -> ... -> out_channels`` (``out_channels`` defaults
    to ``hidden_channels``). Subclasses choose the convolution in :meth:`init_conv`.

    Args:
        in_channels: node feature size.
        hidden_channels: size of the intermediate layers.
        num_layers: number of convolutions (>= 1).
        out_channels: embedding size (default ``hidden_channels``).
        activation: ``'prelu'`` (a slope per channel), ``'prelu_shared'`` (one slope),
            ``'relu'``, ``'elu'``, ``'gelu'``, ``'tanh'``, ``'identity'``.
        act_last: apply the activation after the last layer too (GRACE and DGI do).
        dropout: dropout on the input of every layer after the first.
        batch_norm: batch normalisation after each convolution (GraphCL/InfoGraph graph encoders).
        act_first: apply the activation before the normalisation, ``norm(act(conv(x)))``, as
            PyG's ``BasicGNN(act_first=True)`` and the InfoGraph and GraphCL authors' GIN
            (``bn(relu(conv(x)))``); default ``act(norm(conv(x)))``. With batch norm the two
            differ in kind: this order's outputs are centred per channel over the batch, so
            they take negative values.
        jk: ``'last'`` returns the last layer's output; ``'cat'`` concatenates every layer's
            output (jumping knowledge, as InfoGraph and GraphCL embed graphs), so the embedding
            size is the sum of the layer sizes (``out_channels`` then reports that sum).
        sparse_input: ``'auto'`` feeds features with under 10% non-zeros to the first layer as a
            sparse matrix where the convolution starts with a linear map (GCN, GAT); ``True``
            always, ``False`` never. Results are equal up to float rounding.

    Shapes: ``x [N, in_channels]``, ``edge_index [2, E]``, optional ``edge_weight [E]`` ->
    ``[N, out_channels]``.

    Example:
        >>> enc = GCNEncoder(1433, 256, num_layers=2, out_channels=128)
        >>> z = enc(data.x, data.edge_index)
    """

    supports_edge_weight = False
    #: the convolutions take ``edge_attr`` (GINE); the others ignore it
    supports_edge_attr = False
    supports_sparse_input = False
    supports_sparse_adjacency = False
    SPARSE_CACHE_SIZE = 2  # e.g. DGI's real and corrupted graphs

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 2,
                 out_channels: int | None = None, activation: str = "prelu",
                 act_last: bool = True, dropout: float = 0.0, batch_norm: bool = False,
                 jk: str = "last", sparse_input="auto", act_first: bool = False,
                 **conv_kwargs):
        super().__init__()
        in_channels = check_positive_int("in_channels", in_channels)
        hidden_channels = check_positive_int("hidden_channels", hidden_channels)
        num_layers = check_positive_int("num_layers", num_layers)
        check_number("dropout", dropout, low=0, high=1, high_open=True)
        if sparse_input not in ("auto", True, False):
            raise ValueError(f"sparse_input must be 'auto', True or False, got {sparse_input!r}")
        if jk not in ("last", "cat"):
            raise ValueError(f"jk must be 'last' or 'cat', got {jk!r}")
        if not isinstance(act_first, bool):
            raise ValueError(f"act_first must be True or False, got {act_first!r}")
        self.act_first = act_first
        out_channels = out_channels or hidden_channels
        self.jk = jk
        self.in_channels = in_channels
        self.num_layers, self.dropout, self.act_last = num_layers, dropout, act_last
        self.sparse_input = sparse_input
        self._sparse_cache: dict = {}
        self.input_embedding = self.init_input_embedding(in_channels, hidden_channels)
        first = in_channels if isinstance(self.input_embedding, nn.Identity) else hidden_channels
        sizes = [first] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.out_channels = sum(sizes[1:]) if jk == "cat" else out_channels
        self.convs = nn.ModuleList(self.init_conv(sizes[i], sizes[i + 1], **conv_kwargs)
                                   for i in range(num_layers))
        self.norms = nn.ModuleList(nn.BatchNorm1d(c) if batch_norm else nn.Identity()
                                   for c in sizes[1:])
        self.acts = nn.ModuleList(
            make_activation(activation, c) if (i < num_layers - 1 or act_last) else nn.Identity()
            for i, c in enumerate(sizes[1:]))
        if self.supports_sparse_input:
            first = self.convs[0]
            lin = first.lin
            first.lin = SparseInputLinear(lin.in_channels, lin.out_channels,
                                          bias=lin.bias is not None,
                                          weight_initializer="glorot")

    def init_conv(self, in_channels: int, out_channels: int, **kwargs):  # pragma: no cover
        raise NotImplementedError

    def init_input_embedding(self, in_channels: int, hidden_channels: int) -> nn.Module:
        """A map applied to ``x`` before the first convolution (identity by default)."""
        return nn.Identity()

    def reset_parameters(self):
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def _cached(self, slot: str, inputs: tuple, build):
        """``build()`` memoised on the identity of ``inputs`` (tensors that need no grad): the
        same graph seen again (DGI's real and corrupted views, every epoch of a full-graph
        run) reuses its sparse form. The cache keeps the inputs alive, so an identity match
        cannot be a recycled address; ``_version`` catches in-place edits."""
        if any(t is not None and t.requires_grad for t in inputs):
            return build()
        key = tuple((t, t._version) if t is not None else None for t in inputs)
        entries = self._sparse_cache.setdefault(slot, [])
        for cached_key, value in entries:
            if all((a is None and b is None) or (a is not None and b is not None and a[0] is b[0]
                                                 and a[1] == b[1])
                   for a, b in zip(cached_key, key)):
                return value
        value = build()
        entries.insert(0, (key, value))
        del entries[self.SPARSE_CACHE_SIZE:]
        return value

    def _maybe_sparse(self, x):
        if x.layout == torch.sparse_csr and not (self.supports_sparse_input and self.sparse_input):
            return x.to_dense()  # this convolution aggregates raw features: it needs them dense
        if not self.supports_sparse_input or self.sparse_input is False or x.layout != torch.strided:
            return x
        if self.sparse_input == "auto" and not (x.numel() > 0 and _sparse.density(x) < 0.1):
            return x
        return x.to_sparse_csr()

    def _adjacency(self, edge_index, edge_weight, num_nodes):
        # the transposed CSR adjacency PyG's sparse path expects
        return to_torch_csr_tensor(edge_index.flip(0), edge_attr=edge_weight,
                                   size=(num_nodes, num_nodes))

    def forward(self, x, edge_index, edge_weight=None, edge_attr=None):
        if x.dim() != 2 or x.size(-1) != self.in_channels:
            raise ValueError(f"{type(self).__name__} expects x of shape [num_nodes, "
                             f"{self.in_channels}], got {list(x.shape)}")
        if self.supports_edge_attr and edge_attr is None:
            raise ValueError(f"{type(self).__name__} embeds edge features: pass edge_attr "
                             f"[num_edges, ...] (data.edge_attr is None)")
        n = x.size(0)
        x = self._cached("x", (x,), lambda: self._maybe_sparse(x))
        x = self.input_embedding(x)
        if self.supports_sparse_adjacency and edge_index.dim() == 2 and edge_index.size(1) > 0:
            # one CSR adjacency shared by every layer: its sparse product is about twice as
            # fast on CPU as gather/scatter message passing
            edge_index = self._cached("adj", (edge_index, edge_weight),
                                      lambda: self._adjacency(edge_index, edge_weight, n))
            edge_weight = None
        outputs = []
        for i, (conv, norm, act) in enumerate(zip(self.convs, self.norms, self.acts)):
            if i > 0 and self.dropout > 0:
                x = F.dropout(x, p=self.dropout, training=self.training)
            if self.supports_edge_attr:
                x = conv(x, edge_index, edge_attr)
            elif self.supports_edge_weight and edge_weight is not None:
                x = conv(x, edge_index, edge_weight)
            else:
                x = conv(x, edge_index)
            x = norm(act(x)) if self.act_first else act(norm(x))
            outputs.append(x)
        return torch.cat(outputs, dim=-1) if self.jk == "cat" else x

    def __repr__(self):
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"num_layers={self.num_layers})")


class GCNEncoder(GNNEncoder):
    """GCN layers (Kipf & Welling, ICLR 2017); accepts ``edge_weight`` (e.g. PPR diffusion).

    The layers are :class:`~graphssl.encoders.gcn_conv.FusedGCNConv` (PyG's ``GCNConv``);
    every layer shares one :class:`~graphssl.encoders.gcn_conv.GCNGraph` per ``edge_index``
    (and ``edge_weight``), so the normalised adjacency and its transpose are built once per
    graph, not once per layer and call.
    """

    supports_edge_weight = True
    supports_sparse_input = True
    supports_sparse_adjacency = True

    def init_conv(self, in_channels, out_channels, **kwargs):
        return FusedGCNConv(in_channels, out_channels, **kwargs)

    def _adjacency(self, edge_index, edge_weight, num_nodes):
        return GCNGraph(edge_index, edge_weight, num_nodes)


class GATEncoder(GNNEncoder):
    """GAT layers (Velickovic et al., ICLR 2018); ``heads`` are concatenated within hidden layers
    so each layer still outputs ``hidden_channels``.

    The layers are :class:`~graphssl.encoders.gat_conv.FusedGATConv` (PyG's ``GATConv`` with
    its aggregation as one sparse product on CPU); every layer shares one
    :class:`~graphssl.encoders.attention_graph.AttentionGraph` per ``edge_index``, cached like
    the GCN's adjacency.

    ``init`` chooses the initialisation: ``'pyg'`` (default), PyG's ``GATConv`` (Glorot
    uniform weights and attention vectors); ``'dgl'``, DGL's ``GATConv``, which the GAT and
    GraphMAE authors' code inherits (Xavier normal with the ReLU gain, zero bias), about
    :math:`\\sqrt{2}` times the weight scale. :meth:`reset_parameters` keeps the choice.
    """

    supports_sparse_input = True
    supports_sparse_adjacency = True
    INITS = ("pyg", "dgl")

    def __init__(self, *args, init: str = "pyg", **kwargs):
        if init not in self.INITS:
            raise ValueError(f"init must be one of {self.INITS}, got {init!r}")
        self.init = init
        super().__init__(*args, **kwargs)
        self._dgl_init()

    def _dgl_init(self):
        if self.init != "dgl":
            return
        gain = nn.init.calculate_gain("relu")
        for conv in self.convs:
            nn.init.xavier_normal_(conv.lin.weight, gain=gain)
            nn.init.xavier_normal_(conv.att_src, gain=gain)
            nn.init.xavier_normal_(conv.att_dst, gain=gain)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

    def reset_parameters(self):
        super().reset_parameters()
        self._dgl_init()

    def init_conv(self, in_channels, out_channels, heads: int = 1, **kwargs):
        if out_channels % heads:
            raise ValueError(f"GAT channels ({out_channels}) must be divisible by heads ({heads})")
        return FusedGATConv(in_channels, out_channels // heads, heads=heads, **kwargs)

    def _adjacency(self, edge_index, edge_weight, num_nodes):
        return AttentionGraph(edge_index, num_nodes)  # GAT takes no edge weights


class SAGEEncoder(GNNEncoder):
    """GraphSAGE layers (Hamilton et al., NeurIPS 2017)."""

    def init_conv(self, in_channels, out_channels, **kwargs):
        return SAGEConv(in_channels, out_channels, **kwargs)


class GINEncoder(GNNEncoder):
    """GIN layers (Xu et al., ICLR 2019), each with a 2-layer MLP: ``Linear -> ReLU -> Linear``
    by default; ``mlp_batch_norm=True`` adds batch normalisation after the first linear layer
    and ``mlp_activation`` chooses its activation (GraphMAE's GIN: batch norm and PReLU)."""

    def init_conv(self, in_channels, out_channels, train_eps: bool = False,
                  mlp_batch_norm: bool = False, mlp_activation: str = "relu", **kwargs):
        layers = [nn.Linear(in_channels, out_channels)]
        if mlp_batch_norm:  # only then: default checkpoints keep their state-dict keys
            layers.append(nn.BatchNorm1d(out_channels))
        layers += [make_activation(mlp_activation, out_channels),
                   nn.Linear(out_channels, out_channels)]
        return GINConv(nn.Sequential(*layers), train_eps=train_eps, **kwargs)


class EdgeEmbedding(nn.Module):
    """Edge features to ``out_channels``: categorical columns (``edge_dims``, one embedding table
    per column, summed, as OGB's ``BondEncoder``) or float features (``edge_channels``, a linear
    map). Exactly one of the two is given.

    Shapes: ``edge_attr [E, len(edge_dims)]`` (integer) or ``[E, edge_channels]`` (float) ->
    ``[E, out_channels]``.
    """

    def __init__(self, out_channels: int, edge_dims=None, edge_channels: int | None = None):
        super().__init__()
        if (edge_dims is None) == (edge_channels is None):
            raise ValueError("give exactly one of edge_dims (categorical edge features, e.g. "
                             "OGB bonds [5, 6, 2]) and edge_channels (float edge features)")
        self.edge_dims = None if edge_dims is None else [int(d) for d in edge_dims]
        if self.edge_dims is not None:
            if not self.edge_dims or min(self.edge_dims) < 1:
                raise ValueError(f"edge_dims must be a non-empty list of positive category "
                                 f"counts, got {edge_dims!r}")
            offsets = torch.tensor([0] + self.edge_dims[:-1]).cumsum(0)
            self.register_buffer("offsets", offsets, persistent=False)
            self.table = nn.Embedding(sum(self.edge_dims), out_channels)
            nn.init.xavier_uniform_(self.table.weight)
        else:
            edge_channels = check_positive_int("edge_channels", edge_channels)
            self.table = nn.Linear(edge_channels, out_channels)

    def forward(self, edge_attr: torch.Tensor) -> torch.Tensor:
        if self.edge_dims is None:
            return self.table(edge_attr.float())
        if edge_attr.dim() == 1:
            edge_attr = edge_attr.unsqueeze(1)
        if edge_attr.is_floating_point() or edge_attr.size(1) != len(self.edge_dims):
            raise ValueError(f"categorical edge features must be integers of shape [E, "
                             f"{len(self.edge_dims)}], got {edge_attr.dtype} "
                             f"{list(edge_attr.shape)}")
        if edge_attr.numel() and (edge_attr.min() < 0 or (edge_attr >= torch.tensor(
                self.edge_dims, device=edge_attr.device)).any()):
            raise ValueError(f"edge feature categories out of range for edge_dims="
                             f"{self.edge_dims}")
        return self.table(edge_attr + self.offsets).sum(dim=1)


class GINEConvWithEdgeEmbedding(nn.Module):
    """``GINEConv`` whose edge features are first embedded to the node width (one
    :class:`EdgeEmbedding` per layer, as OGB's molecule GIN)."""

    def __init__(self, conv: GINEConv, edge_embedding: EdgeEmbedding):
        super().__init__()
        self.conv, self.edge_embedding = conv, edge_embedding

    def forward(self, x, edge_index, edge_attr):
        return self.conv(x, edge_index, self.edge_embedding(edge_attr))


class GINEEncoder(GNNEncoder):
    r"""GIN layers with edge features: the molecule GNN of Hu et al. ("Strategies for
    Pre-training Graph Neural Networks", ICLR 2020) and of OGB's ``ogbg-mol*`` examples. The
    input is first embedded by a linear map to ``hidden_channels`` (on one-hot atom features,
    exactly OGB's ``AtomEncoder``: a sum of one embedding per categorical column); each layer
    computes :math:`\mathrm{MLP}\big((1 + \epsilon) h_i + \sum_{j} \mathrm{ReLU}(h_j +
    e_{ji})\big)` with its own edge embedding :math:`e` and a ``Linear -> BatchNorm -> ReLU ->
    Linear`` MLP of width ``2 * hidden`` (``mlp_batch_norm``, ``mlp_activation`` as for
    :class:`GINEncoder`). Use ``batch_norm=True, act_last=False,
    activation='relu'`` for the papers' stack.

    Args:
        edge_dims: category counts of integer edge features (OGB bonds: ``[5, 6, 2]``, the
            default), or
        edge_channels: width of float edge features (e.g. MUTAG's one-hot bond types).
        train_eps: learn :math:`\epsilon` (OGB's examples do; default ``True``).
        others: as :class:`GNNEncoder`.

    Shapes: ``x [N, in_channels]``, ``edge_index [2, E]``, ``edge_attr [E, ...]`` ->
    ``[N, out_channels]``. A graph without edges (a one-atom molecule) is fine: each node then
    only sees itself.

    Example:
        >>> enc = GINEEncoder(174, 300, num_layers=5, batch_norm=True, act_last=False,
        ...                   activation='relu')
        >>> z = enc(data.x, data.edge_index, edge_attr=data.edge_attr)
    """

    supports_edge_attr = True

    def init_input_embedding(self, in_channels, hidden_channels):
        return nn.Linear(in_channels, hidden_channels)

    def init_conv(self, in_channels, out_channels, edge_dims=None, edge_channels=None,
                  train_eps: bool = True, mlp_batch_norm: bool = True,
                  mlp_activation: str = "relu", **kwargs):
        if edge_dims is None and edge_channels is None:
            edge_dims = [5, 6, 2]  # OGB's bond features: type, stereo, conjugation
        hidden = 2 * out_channels
        layers = [nn.Linear(in_channels, hidden)]
        if mlp_batch_norm:
            layers.append(nn.BatchNorm1d(hidden))
        layers += [make_activation(mlp_activation, hidden), nn.Linear(hidden, out_channels)]
        mlp = nn.Sequential(*layers)
        return GINEConvWithEdgeEmbedding(GINEConv(mlp, train_eps=train_eps, **kwargs),
                                         EdgeEmbedding(in_channels, edge_dims, edge_channels))


GNN_ENCODERS = {"gcn": GCNEncoder, "gat": GATEncoder, "sage": SAGEEncoder, "gin": GINEncoder,
                "gine": GINEEncoder}
