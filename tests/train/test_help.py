"""python -m vaekit.train --help shows the defaults that apply: the dataset presets' values."""

from __future__ import annotations

from vaekit.train.cli import build_parser
from vaekit.train.config import VAEConfig


def test_help_shows_the_preset_defaults_not_the_class_defaults():
    text = " ".join(build_parser(VAEConfig).format_help().split())  # unwrap argparse's lines
    assert "(default: 16 for mnist/fashion-mnist/celeba presets)" in text  # --dim; the class says 32
    assert "(default: 28 for mnist/fashion-mnist, 64 for celeba)" in text  # --image-size
    assert "only a root given here is recorded" in text  # --data-root records nothing by default
