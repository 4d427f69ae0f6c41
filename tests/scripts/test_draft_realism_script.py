"""scripts/draft_realism.py: the two ways of drafting the same samples, and clear errors for bad input files."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import ROOT, load_script

TASK = str(ROOT / "examples" / "tasks" / "customer-intent.toml")


def _script():
    return load_script("draft_realism")


def test_draft_realism_prints_both_ways_and_refuses_bad_files(tmp_path, capsys):
    script = _script()
    words = "refund charge order parcel size fabric late twice return cable".split()
    labels = ["refund", "order-status", "product-question"]
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"{words[i % 10]} {words[(3 * i) % 10]} please help {i} now",
                                          "label": labels[i % 3]}) for i in range(12)))
    line = script.main(str(path), TASK, embedder="hashing")
    match = re.fullmatch(r"customer-intent: 12 samples; realism 4 at a time ([0-9.]+), all at once ([0-9.]+); "
                         r"sample score ([0-9.]+) and ([0-9.]+)", line)
    assert match, line
    assert all(0.0 <= float(x) <= 1.0 for x in match.groups()) and line in capsys.readouterr().out
    with pytest.raises(SystemExit, match="cannot read"):
        script.read_samples(str(tmp_path / "missing.jsonl"))
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(SystemExit, match="is not JSONL"):
        script.read_samples(str(tmp_path / "bad.jsonl"))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(SystemExit, match="holds no samples"):
        script.read_samples(str(tmp_path / "empty.jsonl"))
