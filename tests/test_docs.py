"""Every Python example in README.md and docs/ runs (epochs shrunk to 2, and the logistic
regression probe searching one C instead of its grid)."""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(page):
    text = page.read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)
    code = [re.sub(r"epochs=\d+", "epochs=2", b) for b in code]
    return [re.sub(r"for epoch in range\(\d+\)", "for epoch in range(2)", b) for b in code]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_examples_run(page, data_root, mirror, offline, monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHSSL_MIRROR", str(mirror))
    monkeypatch.setenv("GRAPHSSL_ROOT", str(data_root))
    monkeypatch.chdir(tmp_path)
    from functools import partial

    import graphssl.evaluate
    from graphssl.methods import METHODS
    monkeypatch.setattr(graphssl.evaluate, "linear_probe",
                        partial(graphssl.evaluate.linear_probe, Cs=[1.0]))
    registered = dict(METHODS)
    namespace = {}
    if page.name == "README.md":  # its snippets continue from a loaded graph
        exec("import torch_geometric.transforms as T\nfrom graphssl import load_dataset\n"
             "data = load_dataset('Cora', transform=T.NormalizeFeatures())[0]\n", namespace)
    try:
        for i, code in enumerate(blocks(page)):
            try:
                exec(compile(code, f"{page.name}[block {i}]", "exec"), namespace)
            except Exception as err:  # name the page and block that broke
                raise AssertionError(f"{page.name} block {i} failed: {err!r}\n{code}") from err
    finally:
        METHODS.clear()
        METHODS.update(registered)  # methods the examples define do not leak into other tests
