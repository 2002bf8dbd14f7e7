"""A slice of a benchmark grid: ``--only dataset=Cora,CiteSeer --only method=dgi`` keeps the
cells whose field has one of the values, without editing the grid file (so the cells keep
their keys and their results land in the grid's own results folder)."""
from __future__ import annotations

from .config import did_you_mean

#: the cell fields a selection may name (values compare as text: ``seed=0`` is seed 0)
FIELDS = ("method", "dataset", "seed", "task", "split")


def parse_only(terms) -> dict:
    """``['dataset=Cora,CiteSeer', 'seed=0']`` -> ``{'dataset': {'Cora', 'CiteSeer'}, 'seed':
    {'0'}}``; terms naming the same field are joined. A term that is not ``FIELD=V[,V...]`` with
    a known field is a ``ValueError`` naming it."""
    selection: dict = {}
    for term in terms or ():
        name, sep, values = str(term).partition("=")
        name = name.strip()
        chosen = {v.strip() for v in values.split(",") if v.strip()}
        if not sep or not chosen:
            raise ValueError(f"only must be FIELD=VALUE[,VALUE...] (e.g. dataset=Cora,CiteSeer), "
                             f"got {term!r}")
        if name not in FIELDS:
            raise ValueError(f"only: unknown field {name!r} in {term!r}; fields: "
                             f"{', '.join(FIELDS)}")
        selection.setdefault(name, set()).update(chosen)
    return selection


def _value(cell, name) -> str | None:
    value = getattr(cell, name)
    return None if value is None else str(value)


def select_cells(cells: list, selection: dict) -> list:
    """The cells whose every selected field has one of its values (dataset names compare
    case-insensitively, as the grid's names resolve). A value no cell of the grid has is a
    ``ValueError`` naming it and the grid's values, so a typo does not select nothing."""
    kept = list(cells)
    for name, wanted in selection.items():
        present = {_value(c, name) for c in cells} - {None}
        folded = {v.casefold(): v for v in present}
        unknown = sorted(v for v in wanted if v.casefold() not in folded)
        if unknown:
            raise ValueError(f"only {name}={','.join(unknown)}: no cell of the grid has this "
                             f"{name}; the grid's: {', '.join(sorted(present)) or 'none'}."
                             f"{did_you_mean(unknown[0], present)}")
        keep = {folded[v.casefold()] for v in wanted}
        kept = [c for c in kept if _value(c, name) in keep]
    return kept


def select_records(records: list, selection: dict) -> list:
    """The result records whose every selected field has one of its values, compared as
    :func:`select_cells` compares cells (as text, case-insensitively). Unlike cells, records
    may be of cells the grid no longer has, so a value no record has selects none rather than
    raising; a record without the field is left out."""
    kept = list(records)
    for name, wanted in selection.items():
        folded = {v.casefold() for v in wanted}
        kept = [r for r in kept if r.get(name) is not None and str(r[name]).casefold() in folded]
    return kept
