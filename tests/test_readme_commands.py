"""Every command in the README's ```bash blocks runs as written, or is on :data:`NOT_RUN` with
the reason (a server that runs until stopped, the whole suite).

The fast ones run here in a temporary folder with ``python`` meaning this interpreter: the
timing command on the shipped model, and the one-minute recipe (train, export, then the demo's
model loading over the folders its ``make demo`` line names) on a fake MNIST written by the
test, with ``--max-steps`` cut to 3 so that it takes seconds (every other option as written).
The ```python blocks are run by tests/test_readme_embed.py.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from support import write_fake_mnist

REPO = Path(__file__).resolve().parent.parent
BASH = re.compile(r"```bash\n(.*?)```", re.DOTALL)

#: commands the test does not run, each with the reason
NOT_RUN = {
    "make demo": "installs .venv-demo and serves the app until stopped (Ctrl-C); tests/demo start "
                 "the same app, and `make runtime-only` installs the same extras in a fresh venv",
    "make test": "the whole test suite, this test included",
    'make demo DEMO_ARGS="--models runs/my-mnist checkpoints/mnist-z2"':
        "serves until stopped; test_the_one_minute_recipe_trains_exports_and_serves loads the "
        "same two folders with the demo's load_models",
}
#: how the commands that do run begin (each has its test below)
RUN_PREFIXES = ("python -m vaekit.runtime.bench", "python -m vaekit.train ", "python -m vaekit.export ")


def readme_commands() -> list[str]:
    """Each command line of the README's ```bash blocks, without its trailing comment."""
    commands = []
    for block in BASH.findall((REPO / "README.md").read_text()):
        for line in block.splitlines():
            command = line.split("  #")[0].split(" # ")[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def command(prefix: str) -> str:
    found = [c for c in readme_commands() if c.startswith(prefix)]
    assert len(found) == 1, f"the README should have one command starting {prefix!r}, has {found}"
    return found[0]


def argv(line: str) -> list[str]:
    """``python -m MODULE ARGS`` -> ``[ARGS]`` (the module's own argv)."""
    words = shlex.split(line)
    assert words[:2] == ["python", "-m"], line
    return words[3:]


def test_every_readme_command_is_run_here_or_listed_with_a_reason():
    commands = readme_commands()
    assert commands, "no ```bash block in README.md"
    unaccounted = [c for c in commands if c not in NOT_RUN and not c.startswith(RUN_PREFIXES)]
    assert not unaccounted, (f"README commands neither run by this test nor in NOT_RUN with a "
                             f"reason: {unaccounted}")
    assert all(len(reason) > 20 for reason in NOT_RUN.values())
    stale = [c for c in NOT_RUN if c not in commands]
    assert not stale, f"NOT_RUN names commands the README no longer has: {stale}"


def test_the_timing_command_runs_as_written(tmp_path):
    line = command("python -m vaekit.runtime.bench")
    (tmp_path / "checkpoints").symlink_to(REPO / "checkpoints", target_is_directory=True)
    run = subprocess.run([sys.executable, *shlex.split(line)[1:]], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"^\| mnist-z2 \| decode \| 64 \|", run.stdout, re.MULTILINE), run.stdout


@pytest.mark.slow
def test_the_one_minute_recipe_trains_exports_and_serves(tmp_path, monkeypatch):
    from vaekit.export.__main__ import main as export_main
    from vaekit.train import config
    from vaekit.train.cli import main as train_main

    train_line, export_line = command("python -m vaekit.train "), command("python -m vaekit.export ")
    # the default data root (./data here, not ../shared/data): a fake MNIST the test writes
    work = tmp_path / "work"
    write_fake_mnist(work / "data", train=700, test=80)
    monkeypatch.setattr(config, "SHARED_DATA", tmp_path / "no-shared-data")
    monkeypatch.chdir(work)
    train_args = argv(train_line)
    assert "--max-steps" in train_args, "the recipe bounds its time with --max-steps"
    train_args[train_args.index("--max-steps") + 1] = "3"
    assert train_main(train_args) == 0
    assert export_main(argv(export_line)) == 0

    from vaekit.demo import load_models
    from vaekit.runtime import VAE

    out = Path(train_args[train_args.index("--out") + 1])
    assert VAE.load(out, providers="cpu").sample(2, seed=0).shape == (2, 1, 28, 28)
    serve = shlex.split(command("make demo DEMO_ARGS=").split("=", 1)[1].strip('"'))
    folders = [Path(f) if f.startswith("runs/") else REPO / f for f in serve[1:]]
    assert serve[0] == "--models" and out in folders
    models = load_models(folders, providers="cpu")
    assert len(models) == 2
