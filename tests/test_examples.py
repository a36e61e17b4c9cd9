"""The runnable examples: each trains on bundled data (seeded) and reaches what it prints."""
import pathlib
import re
import runpy
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def run_example(name, monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", [name, *args])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


@pytest.mark.parametrize("name,floor", [("two_branch.py", 0.94), ("residual.py", 0.96),
                                        ("inception.py", 0.96)])
def test_graph_examples_reach_their_accuracy(name, floor, monkeypatch, capsys):
    out = run_example(name, monkeypatch, capsys)
    accuracy = float(re.search(r"test accuracy (\d\.\d+)", out).group(1))
    assert accuracy >= floor, out[-500:]


def test_multi_head_example_trains_both_heads(monkeypatch, capsys):
    out = run_example("multi_head.py", monkeypatch, capsys)
    assert "digit_loss" in out and "centre_loss" in out and "val_digit_accuracy" in out
    accuracy = float(re.search(r"test digit accuracy (\d\.\d+)", out).group(1))
    assert accuracy >= 0.94, out[-500:]


def test_ctc_example_learns_to_transcribe(monkeypatch, capsys):
    out = run_example("ctc_transcribe.py", monkeypatch, capsys)
    exact = [int(v) for v in re.findall(r"validation transcripts exact: (\d+)%", out)]
    assert exact and exact[-1] >= 90, out[-800:]
    assert "beam #1" in out


def test_char_lstm_example_learns_and_generates(monkeypatch, capsys):
    out = run_example("char_lstm.py", monkeypatch, capsys, "--epochs", "2", "--length", "60")
    losses = [float(v) for v in re.findall(r"- loss: (\d+\.\d+)", out)]
    assert len(losses) == 2 and losses[1] < losses[0], out[-800:]
    assert out.count("--- temperature") == 2
