"""`sweeper check`: the dry run of the examples, read from its output, and its warnings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sweeper.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.slow
def test_check_of_the_digits_example_reports_what_a_sweep_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLES / "digits.py")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^task digits \(file: .*digits.py, fingerprint [0-9a-f]{16}\)$", out, re.M), out
    assert re.search(r"train +x \(\d+, 64\) float32, y \(\d+,\) int32", out)
    for penalty in ("none", "l1", "l2", "l1_l2"):
        line = next(line for line in out.splitlines() if line.strip().startswith(f"penalty={penalty} "))
        assert "params 85,002" in line and re.search(r"step \d+\.\d ms", line)
        assert ("penalised kernels 0/3" if penalty == "none" else "penalised kernels 3/3") in line
        assert "dropout 0.2,0.2" in line
    assert re.search(r"estimated epoch: \d+ steps x [\d.]+ ms \+ validation \d+ x [\d.]+ ms \+ \d+ ms per epoch = [\d.]+ s; "
                     r"a trial of 40 epochs = [\d.]+ (s|min) for one worker using all \d+ cores of this machine", out)
    assert out.rstrip().endswith("ok: ready to launch")


@pytest.mark.slow
def test_check_of_an_existing_model_sees_the_penalty_and_dropout_put_on_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLES / "digits_existing_model.py"), "--dropout-range", "0.1", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "learning rate the optimizer’s own" in out
    l2 = next(line for line in out.splitlines() if line.strip().startswith("penalty=l2 "))
    assert "penalised kernels 3/3" in l2 and "dropout 0.2,0.2" in l2  # the model's own 0.5 replaced
    assert "warning" not in out


@pytest.mark.slow
def test_a_model_without_dropout_gets_a_warning_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nodrop.py").write_text((EXAMPLES / "digits.py").read_text().replace(
        "layers.Dropout(hp.dropout),", ""))
    assert main(["check", "nodrop.py", "--train-size", "100", "--penalties", "none", "l2"]) == 0
    out = capsys.readouterr().out
    assert "warning: no Dropout layer has the sampled rate 0.2 (rates: no Dropout layers)" in out
    assert "--dropout-range 0 0" in out and "ok with 1 warning(s)" in out
