"""`evalstack attack-rate`: a rule detector with a known error on a target with a known
attack success rate; the corrected interval holds the truth, the observed one does not."""

from __future__ import annotations

import json

import pytest

from evalstack.benchmarks.adversarial.injection_direct import injection_direct
from tests.benchmarks.adversarial.helpers import invoke, run
from tests.benchmarks.adversarial.targets import truly_hijacked
from tests.benchmarks.adversarial.test_suites import mirror

N, LABELLED = 400, 150


def _labels(path, samples, rate: float) -> None:
    with path.open("w") as f:
        for s in samples[:LABELLED]:
            f.write(json.dumps({"id": s.id, "label": truly_hijacked(s.input_text(), rate)})
                    + "\n")


@mirror
def test_the_corrected_rate_holds_the_truth_and_two_systems_compare_paired(tmp_path):
    store = tmp_path / "s.db"
    samples = list(injection_direct(attacks="hijacking").dataset)[:N]
    truth_a = sum(truly_hijacked(s.input_text(), 0.3) for s in samples) / N
    truth_b = sum(truly_hijacked(s.input_text(), 0.1) for s in samples) / N
    a = run(store, "injection_direct", "misread", "-T", "attacks=hijacking", "--limit", str(N))
    b = run(store, "injection_direct", "misread", "-M", "rate=0.1", "-T", "attacks=hijacking",
            "--limit", str(N))
    labels = tmp_path / "labels.jsonl"
    _labels(labels, samples, 0.3)
    code, out = invoke("attack-rate", a, b, "--labels", str(labels), "--store", str(store),
                       "--json")
    assert code == 0, out
    rep = json.loads(out)
    det = rep["detector"]
    assert det["tp"] + det["fn"] + det["tn"] + det["fp"] == LABELLED
    observed, corrected = rep["overall"]["observed"], rep["overall"]["corrected"]
    assert not observed["ci"][0] <= truth_a <= observed["ci"][1]  # the detector's error shows
    assert corrected["ci"][0] <= truth_a <= corrected["ci"][1], (corrected, truth_a)
    # the interval is wider than the observed one: the labels' uncertainty is in it
    assert corrected["ci"][1] - corrected["ci"][0] > observed["ci"][1] - observed["ci"][0]
    diff = rep["comparison"]["b_minus_a"]
    assert diff["ci"][0] <= truth_b - truth_a <= diff["ci"][1] < 0
    assert diff["p_value"] < 0.001 and diff["n"] == N
    code, text = invoke("attack-rate", a, "--labels", str(labels), "--store", str(store))
    assert code == 0 and "sensitivity" in text and "corrected" in text


@pytest.mark.parametrize(("line", "says"), [
    ('{"id": "x", "label": "maybe"}', "line 2: field 'label' must be true or false"),
    ("not json", "line 2: not JSON"),
    ('{"label": true}', "line 2: expected an object with a string field 'id'"),
])
def test_bad_labels_name_the_line_and_field(tmp_path, line, says):
    from evalstack.analysis.attack_rate import read_labels
    from evalstack.core.errors import UserError

    path = tmp_path / "l.jsonl"
    path.write_text('{"id": "a", "label": 1}\n' + line + "\n")
    with pytest.raises(UserError, match=says):
        read_labels(path)


def test_attack_rate_needs_one_source_of_detector_error(tmp_path):
    code, out = invoke("attack-rate", "RUN", "--store", str(tmp_path / "none.db"))
    assert code != 0 and "--labels FILE" in out and "Traceback" not in out
