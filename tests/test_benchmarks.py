"""The benchmark bookkeeping: published numbers are well-formed and the table reads records."""
import json
import subprocess
import sys
from pathlib import Path

import yaml

from graphssl.methods import METHODS

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def test_published_entries_name_a_method_a_source_and_a_protocol():
    published = yaml.safe_load((BENCH / "published.yaml").read_text())
    for method, datasets in published.items():
        assert method in METHODS, f"published.yaml: unknown method {method!r}"
        for dataset, entry in datasets.items():
            assert {"mean", "source", "protocol"} <= set(entry), (method, dataset)
            assert isinstance(entry["mean"], (int, float)), (method, dataset)
            assert entry.get("rule", "within") in ("within", "at_least"), (method, dataset)


def test_table_compares_a_record_with_its_published_entry(tmp_path):
    results = tmp_path / "results" / "x"
    results.mkdir(parents=True)
    (results / "vgae_cora.json").write_text(json.dumps(
        {"method": "vgae", "dataset": "Cora", "runs": 2, "test_auc_mean": 0.905,
         "test_auc_std": 0.01, "test_ap_mean": 0.93, "test_ap_std": 0.0}))
    (results / "grace_cora.json").write_text(json.dumps(
        {"method": "grace", "dataset": "Cora", "runs": 1, "test_acc_mean": 0.83,
         "test_acc_std": 0.0}))
    out = subprocess.run([sys.executable, str(BENCH / "table.py"), "--results",
                          str(tmp_path / "results")], capture_output=True, text=True,
                         check=True).stdout
    assert "| vgae | Cora | AUC | 90.50 ± 1.00 (2 runs) | 91.4 | 91.4 | yes |" in out
    assert "| vgae | Cora | AP | 93.00 ± 0.00 (2 runs) | 92.6 | 92.6 | yes |" in out
    assert "| grace | Cora | accuracy | 83.00 ± 0.00 (1 runs) | 83.3 | 82.8 | >= 82.8: yes |" in out


def test_script_record_names_the_machine_and_the_command_and_saves_atomically(tmp_path,
                                                                              monkeypatch):
    from graphssl.bench.environment import save_record, script_record
    monkeypatch.setattr(sys, "argv", ["speed_x.py", "--rounds", "3"])
    record = script_record([{"step_s": 1.5}], "speed_x.py", rounds=3)
    assert record["command"] == "python benchmarks/speed_x.py --rounds 3"
    assert record["results"] == [{"step_s": 1.5}] and record["rounds"] == 3
    assert {"device", "threads", "cpu", "cpu_capability", "cpu_count", "versions"} <= set(record)
    out = tmp_path / "r.json"
    out.write_text("old")
    save_record(record, out)
    assert json.loads(out.read_text()) == record
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left behind
