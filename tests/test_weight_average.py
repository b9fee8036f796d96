"""experiments/weight_average.py: the probe behind the iterate-averaging finding in docs/results.md."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_probe():
    spec = importlib.util.spec_from_file_location("weight_average", ROOT / "experiments" / "weight_average.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_average_at_rate_one_is_the_weights_and_a_slow_one_lags(tmp_path, capsys):
    out = tmp_path / "rows.json"
    args = ["--scenario", "scenarios/notmnist_0hu_spsa.toml", "--steps", "60", "--every", "20"]
    args += ["--set", "task.name=digits", "--set", "network.layers=[64, 10]", "--set", "task.batch_size=200"]
    assert load_probe().main([*args, "--rates", "1", "1e-6", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [row["step"] for row in rows] == [20, 40, 60]
    assert all(row["average 1"] == row["weights"] for row in rows)
    first = rows[0]["average 1e-06"]
    assert all(row["average 1e-06"] == first for row in rows) and any(row["weights"] != first for row in rows)
    assert "| weights |" in capsys.readouterr().out
