"""The command line: `python -m lamina demo`, the README's first command, as a user runs it."""
import os
import re
import subprocess
import sys


def _run(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # the lamina under test
    return subprocess.run([sys.executable, "-m", "lamina", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_demo_command_trains_to_the_promised_accuracy():
    out = _run("demo", "--verbose", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Total params: 4,810" in out.stdout  # the summary: 64*64+64 + 64*10+10
    assert re.search(r"Epoch 30/30", out.stdout)
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out.stdout).group(1))
    assert accuracy >= 0.95


def test_unknown_command_is_refused():
    out = _run("train")
    assert out.returncode == 2 and "invalid choice: 'train'" in out.stderr
