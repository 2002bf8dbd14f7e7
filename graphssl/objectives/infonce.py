"""InfoNCE / NT-Xent contrastive loss."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..checks import check_positive, check_positive_int
from ._checks import check_pair
from ._gather import world_size


class InfoNCE(nn.Module):
    r"""InfoNCE over two views, as in GRACE (Zhu et al., "Deep Graph Contrastive Representation
    Learning", 2020) and SimCLR's NT-Xent (Chen et al., ICML 2020): the same class serves both.

    Row ``i`` of ``z1`` and row ``i`` of ``z2`` are a positive pair; every other row of the other
    view (and, with ``intra_view_negatives``, of the same view) is a negative:

    .. math::
        \ell_i = -\log \frac{e^{s(z_1^i, z_2^i)/\tau}}
        {\sum_j e^{s(z_1^i, z_2^j)/\tau} + \sum_{j \ne i} e^{s(z_1^i, z_1^j)/\tau}}

    with :math:`s` the cosine similarity (dot product if ``normalize=False``); the loss is the mean
    over anchors of both views (``symmetric=True``) or of view 1 only.

    Cost: three ``N x N`` similarity products (``z1 z2^T``, ``z1 z1^T``, ``z2 z2^T``), one
    ``N x N`` buffer each. Normalised embeddings use a fixed shift of ``1/tau`` (exact, and cheaper
    than ``logsumexp``); very small temperatures and ``normalize=False`` use ``logsumexp``. Both
    are finite for any temperature.

    Memory-safe modes, for graphs whose ``N x N`` buffers do not fit:

    * ``chunk_size=B``: the same loss, exactly, computed in blocks of ``B`` anchor rows; each
      block's ``B x N`` similarities are recomputed in the backward pass instead of stored, so
      memory is ``O(B N)`` instead of ``O(N^2)``, for three more ``N x N x d`` products (ten
      instead of seven; the ``logsumexp`` path, by activation checkpointing: twelve).
    * ``num_negatives=k``: each step draws ``k`` distinct rows at random (torch's global RNG,
      which the Trainer seeds) and every anchor contrasts its positive with those rows of the
      other view (and of its own view, with ``intra_view_negatives``), its own rows left out.
      Memory and time ``O(N k)``. This is a different, noisier loss (InfoNCE with ``k`` sampled
      negatives, as in SimCLR/MoCo with a batch), not an estimate of the full one.

    Cross-rank negatives (data-parallel training, ``docs/distributed.md``): with
    ``gather_negatives=True`` and a process group of more than one rank, both views' rows of every
    rank are all-gathered *with gradients* (``torch.distributed.nn.functional.all_gather``) and
    each local anchor is contrasted with the positive and negatives of the *global* batch. The
    loss is the mean over the local anchors, scaled by ``world_size * n_local / n_global`` (1 when
    ranks hold equally many rows), so that under DDP (which averages gradients over ranks) the
    ranks' mean loss and the gradients are those of this loss, computed in one process, over the
    concatenation of the ranks' batches in rank order. Without gathering, each rank contrasts
    its own batch only and DDP optimises the *mean of the per-rank losses*: fewer negatives per
    anchor (``2n - 2`` instead of ``2N - 2``), a different loss. Every rank must call the loss
    (it is a collective). Without a process group (or with one rank) the option does nothing.
    Cost: ``O(n N)`` per rank, by ``logsumexp`` (not combinable with ``chunk_size`` or
    ``num_negatives``).

    Args:
        temperature: :math:`\tau > 0`.
        intra_view_negatives: also contrast against the other rows of the anchor's own view.
        decoupled: leave the positive pair out of the denominator (decoupled contrastive
            learning, Yeh et al., ECCV 2022; GraphCL's loss is this form, one-directional,
            without intra-view negatives).
        symmetric: average the loss with view 2 as anchor.
        normalize: L2-normalise rows first (cosine similarity).
        chunk_size: compute the exact loss in blocks of this many anchors (``None``: one block).
        num_negatives: contrast with this many sampled negatives per step instead of all rows
            (``None``: all rows). Not combinable with ``chunk_size``.
        gather_negatives: under ``torch.distributed``, contrast with every rank's rows (see
            above); ``False`` (default): this process's rows only.

    Shapes: ``z1, z2: [N, d]`` -> scalar.

    Example:
        >>> loss_fn = InfoNCE(temperature=0.5)
        >>> loss = loss_fn(projector(encoder(v1.x, v1.edge_index)),
        ...                projector(encoder(v2.x, v2.edge_index)))
    """

    def __init__(self, temperature: float = 0.5, intra_view_negatives: bool = True,
                 symmetric: bool = True, normalize: bool = True, decoupled: bool = False,
                 chunk_size: int | None = None, num_negatives: int | None = None,
                 gather_negatives: bool = False):
        super().__init__()
        if not isinstance(gather_negatives, bool):
            raise ValueError(f"gather_negatives must be True or False, got {gather_negatives!r}")
        if gather_negatives and (chunk_size is not None or num_negatives is not None):
            raise ValueError("gather_negatives contrasts with the whole global batch; it does not "
                             "combine with chunk_size or num_negatives, got "
                             f"chunk_size={chunk_size!r}, num_negatives={num_negatives!r}")
        self.gather_negatives = bool(gather_negatives)
        self.chunk_size = None if chunk_size is None else \
            check_positive_int("chunk_size", chunk_size)
        self.num_negatives = None if num_negatives is None else \
            check_positive_int("num_negatives", num_negatives)
        if self.chunk_size is not None and self.num_negatives is not None:
            raise ValueError("chunk_size and num_negatives are two alternatives (exact loss in "
                             "blocks, or sampled negatives): set one of them, got "
                             f"chunk_size={chunk_size!r} and num_negatives={num_negatives!r}")
        self.decoupled = bool(decoupled)
        self.temperature = check_positive("temperature", temperature)
        self.intra_view_negatives = bool(intra_view_negatives)
        self.symmetric = bool(symmetric)
        self.normalize = bool(normalize)

    # With unit vectors every logit lies in [-1/tau, 1/tau]: shifted by 1/tau, each exponential is
    # in [exp(-2/tau), 1], so sums of exponentials (all positive: no cancellation) neither
    # overflow nor underflow in float32 while 2/tau < 80. Below this temperature the logsumexp
    # path is used.
    FIXED_SHIFT_MIN_TEMPERATURE = 0.025

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        if self.gather_negatives and world_size() > 1:
            check_pair(z1, z2, min_rows=1)
            if self.normalize:
                z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
            return self._gathered(z1, z2)
        check_pair(z1, z2, min_rows=2)
        if self.normalize:
            z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
        if self.num_negatives is not None:
            return self._sampled(z1, z2)
        chunk = self.chunk_size if self.chunk_size and self.chunk_size < z1.size(0) else None
        if self.normalize and self.temperature >= self.FIXED_SHIFT_MIN_TEMPERATURE:
            return self._fixed_shift(z1, z2, chunk)
        return self._logsumexp(z1, z2) if chunk is None else self._chunked(z1, z2)

    def _mean_loss(self, pos, lse1, lse2):
        loss = (lse1 - pos).mean()
        return loss if not self.symmetric else 0.5 * (loss + (lse2 - pos).mean())

    def _fixed_shift(self, z1, z2, chunk=None):
        c = 1.0 / self.temperature
        den1, den2 = _ShiftedExpSums.apply(z1, z2, c, self.intra_view_negatives, self.symmetric,
                                           self.decoupled, chunk)
        pos = (z1 * z2).sum(1) * c - c
        loss = (den1.log() - pos).mean()
        return loss if not self.symmetric else 0.5 * (loss + (den2.log() - pos).mean())

    def _logsumexp(self, z1, z2):
        s12 = self._logits(z1, z2)
        pos = s12.diagonal().clone()
        if self.decoupled:
            s12.diagonal().fill_(float("-inf"))
        lse1 = torch.logsumexp(s12, dim=1)
        lse2 = torch.logsumexp(s12, dim=0) if self.symmetric else None
        if self.intra_view_negatives:
            lse1 = torch.logaddexp(lse1, torch.logsumexp(self._logits(z1, z1, True), dim=1))
            if self.symmetric:
                lse2 = torch.logaddexp(lse2, torch.logsumexp(self._logits(z2, z2, True), dim=1))
        return self._mean_loss(pos, lse1, lse2)

    def _chunked(self, z1, z2):
        """The exact loss in row blocks; each block is recomputed in backward (checkpointing)."""
        n, size = z1.size(0), self.chunk_size
        row_lse1, col_lse12, row_lse2 = [], [], []
        for start in range(0, n, size):
            stop = min(start + size, n)
            lse1, col, lse2 = checkpoint(self._block, z1, z2, start, stop, use_reentrant=False)
            row_lse1.append(lse1)
            if self.symmetric:
                col_lse12.append(col)
                if lse2 is not None:
                    row_lse2.append(lse2)
        lse1 = torch.cat(row_lse1)
        lse2 = None
        if self.symmetric:
            lse2 = torch.logsumexp(torch.stack(col_lse12), dim=0)
            if self.intra_view_negatives:
                lse2 = torch.logaddexp(lse2, torch.cat(row_lse2))
        pos = (z1 * z2).sum(1) / self.temperature
        return self._mean_loss(pos, lse1, lse2)

    def _block(self, z1, z2, start, stop):
        """Log-sum-exps of anchors ``start:stop``: their denominators (view 1), their share of
        every view-2 anchor's inter-view sum (a column log-sum-exp) and, for view-2 anchors
        ``start:stop``, their intra-view sums."""
        rows = torch.arange(stop - start, device=z1.device)
        cols = rows + start

        def logits(a, b, exclude):
            s = (a[start:stop] @ b.t()).mul_(1.0 / self.temperature)
            if exclude:
                s[rows, cols] = float("-inf")
            return s

        s12 = logits(z1, z2, self.decoupled)
        lse1 = torch.logsumexp(s12, dim=1)
        col = torch.logsumexp(s12, dim=0) if self.symmetric else None
        lse2 = None
        if self.intra_view_negatives:
            lse1 = torch.logaddexp(lse1, torch.logsumexp(logits(z1, z1, True), dim=1))
            if self.symmetric:
                lse2 = torch.logsumexp(logits(z2, z2, True), dim=1)
        return lse1, col, lse2

    def _sampled(self, z1, z2):
        """InfoNCE against ``num_negatives`` rows drawn at random, shared by all anchors."""
        n = z1.size(0)
        idx = torch.randperm(n, device=z1.device)[:self.num_negatives]
        own = idx.unsqueeze(0) == torch.arange(n, device=z1.device).unsqueeze(1)  # [N, k]
        pos = (z1 * z2).sum(1) / self.temperature
        # unit rows and a moderate temperature: sums of exp(s - 1/tau) (one N x k buffer kept
        # per block for backward, as _ShiftedExpSums), else logsumexp
        shift = 1.0 / self.temperature if self.normalize and \
            self.temperature >= self.FIXED_SHIFT_MIN_TEMPERATURE else None

        def negatives(anchor, rows):
            s = (anchor @ rows[idx].t()).div_(self.temperature).masked_fill_(own, -math.inf)
            if shift is None:
                return torch.logsumexp(s, dim=1)
            return s.sub_(shift).exp_().sum(1)

        def lse(anchor, other, positive):
            out = negatives(anchor, other)
            if self.intra_view_negatives:
                intra = negatives(anchor, anchor)
                out = out + intra if shift is not None else torch.logaddexp(out, intra)
            if shift is not None:
                if not self.decoupled:
                    out = out + (positive - shift).exp()
                return out.log() + shift
            return out if self.decoupled else torch.logaddexp(out, positive)

        return self._mean_loss(pos, lse(z1, z2, pos), lse(z2, z1, pos) if self.symmetric else None)

    def _gathered(self, z1, z2):
        """Local anchors against every rank's rows (see the class docstring)."""
        from ._gather import gather_rows
        dim = z1.size(1)
        rows, offset, sizes = gather_rows(torch.cat([z1, z2], dim=1))  # one collective
        all1, all2 = rows[:, :dim], rows[:, dim:]
        n, total = z1.size(0), rows.size(0)
        if total < 2:
            raise ValueError(f"need at least 2 samples over all ranks to have negatives, got "
                             f"{total}")
        local = torch.arange(n, device=z1.device)
        own = local + offset  # this rank's rows in the global batch

        def lse(anchor, other, same):
            s = anchor @ other.t() / self.temperature  # [n, total]
            pos = s[local, own]
            if self.decoupled:
                s = s.index_put((local, own), s.new_tensor(float("-inf")))
            out = torch.logsumexp(s, dim=1)
            if self.intra_view_negatives:
                t = (anchor @ same.t() / self.temperature).index_put(
                    (local, own), s.new_tensor(float("-inf")))
                out = torch.logaddexp(out, torch.logsumexp(t, dim=1))
            return out - pos

        loss = lse(z1, all2, all1).mean()
        if self.symmetric:
            loss = 0.5 * (loss + lse(z2, all1, all2).mean())
        return loss * (len(sizes) * n / total)

    def _logits(self, a, b, exclude_self: bool = False):
        s = (a @ b.t()).mul_(1.0 / self.temperature)
        if exclude_self:
            s.diagonal().fill_(float("-inf"))
        return s

    def extra_repr(self):
        text = (f"temperature={self.temperature}, intra_view_negatives="
                f"{self.intra_view_negatives}, symmetric={self.symmetric}, "
                f"normalize={self.normalize}, decoupled={self.decoupled}")
        if self.chunk_size is not None:
            text += f", chunk_size={self.chunk_size}"
        if self.num_negatives is not None:
            text += f", num_negatives={self.num_negatives}"
        if self.gather_negatives:
            text += ", gather_negatives=True"
        return text


class _ShiftedExpSums(torch.autograd.Function):
    r"""Row sums of :math:`E_{ab} = \exp(c\, a b^\top - c)` for unit-norm ``z1``, ``z2``:

    ``den1 = E_12 1 + (E_11 - diag) 1`` and ``den2 = E_12^T 1 + (E_22 - diag) 1``.

    Same products as autograd would run forward (three ``N x N``), but a cheaper backward:
    ``E_11`` and ``E_22`` are symmetric, so the gradient of an intra-view sum w.r.t. row ``k`` of
    its one operand needs row ``k`` of the block only,
    :math:`c \sum_j (g_k + g_j) E_{kj} z_j`: one product instead of two. Backward therefore
    costs four ``N x N x d`` products (autograd: six).

    With ``chunk`` rows per block (``None``: one block), the blocks are not stored but
    recomputed in backward, block by block: memory ``O(chunk N)``, three more products. Stored
    blocks are rewritten in place by backward (it can run once; double backward is not
    supported).
    """

    @staticmethod
    def forward(ctx, z1, z2, c, intra, symmetric, decoupled=False, chunk=None):
        n = z1.size(0)
        blocks = [(0, n)] if chunk is None else [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
        den1 = z1.new_zeros(n)
        den2 = z1.new_zeros(n)
        saved = []
        for start, stop in blocks:
            e12, e11, e22 = _exp_blocks(z1, z2, c, start, stop, intra, symmetric, decoupled)
            den1[start:stop] += e12.sum(1)
            if symmetric:
                den2 += e12.sum(0)
            if e11 is not None:
                den1[start:stop] += e11.sum(1)
            if e22 is not None:
                den2[start:stop] += e22.sum(1)
            if chunk is None:
                saved = [e12, e11, e22]
        ctx.c, ctx.intra, ctx.symmetric, ctx.decoupled = c, intra, symmetric, decoupled
        ctx.blocks = blocks
        ctx.save_for_backward(z1, z2, *saved)
        return den1, den2

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g1, g2):
        z1, z2, *saved = ctx.saved_tensors
        c = ctx.c
        g2 = g2 if ctx.symmetric else torch.zeros_like(g1)
        grad1, grad2 = torch.zeros_like(z1), torch.zeros_like(z2)
        for start, stop in ctx.blocks:
            e12, e11, e22 = saved or _exp_blocks(z1, z2, c, start, stop, ctx.intra,
                                                 ctx.symmetric, ctx.decoupled)
            # d den1_i / d s12_ij = d den2_j / d s12_ij = E12_ij
            g12 = _scale_pairs_(e12, g1[start:stop], g2)
            grad1[start:stop] += g12 @ z2
            grad2 += g12.t() @ z1[start:stop]
            if e11 is not None:
                grad1[start:stop] += _scale_pairs_(e11, g1[start:stop], g1) @ z1
            if e22 is not None:
                grad2[start:stop] += _scale_pairs_(e22, g2[start:stop], g2) @ z2
        return grad1.mul_(c), grad2.mul_(c), None, None, None, None, None


def _scale_pairs_(e, row, col):
    """``e *= row[:, None] + col[None, :]`` in place, a band of rows at a time: the full
    ``[rows, N]`` sum would be a fresh allocation as large as ``e`` (234 MB on Amazon-Photo,
    three a step); a band of at most ``2**18`` entries stays in cache. Same values, bit for bit;
    GRACE's Amazon-Photo step 4.53 -> 3.78 s (``benchmarks/speed_infonce_backward.py``)."""
    band = max(1, (1 << 18) // max(1, e.size(1)))
    for start in range(0, e.size(0), band):
        e[start:start + band].mul_(row[start:start + band].unsqueeze(1) + col.unsqueeze(0))
    return e


def _exp_blocks(z1, z2, c, start, stop, intra, symmetric, decoupled):
    """Rows ``start:stop`` of ``E_12``, ``E_11`` and ``E_22`` (``None`` where not needed); the
    positive pairs leave ``E_12`` when ``decoupled``, the self pairs always leave ``E_aa``."""
    shift = z1.new_full((), -c)
    rows = torch.arange(stop - start, device=z1.device)

    def block(a, b, exclude_self):
        e = torch.addmm(shift, a[start:stop] * c, b.t())
        if exclude_self:
            e[rows, rows + start] = float("-inf")
        return e.exp_()

    e12 = block(z1, z2, decoupled)
    e11 = block(z1, z1, True) if intra else None
    e22 = block(z2, z2, True) if intra and symmetric else None
    return e12, e11, e22
