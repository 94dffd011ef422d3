"""notebooks/reproduce.ipynb runs top to bottom and rebuilds the figures of every checkpoint.

The first test always runs: it executes the notebook over tiny checkpoints built here on a
fake MNIST. The second runs it over the shipped ``checkpoints/`` on a few test images, and is
skipped (with the reason) when no checkpoint or none of their data is present.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from support import write_fake_mnist

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "reproduce.ipynb"


def run_notebook(monkeypatch, *, checkpoints: Path, figures: Path, limit: int, samples: int,
                 data_root: Path | None = None, timeout: int = 300):
    """Execute the notebook with its parameters set through the environment; return it."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("VAEKIT_CHECKPOINTS", str(checkpoints))
    monkeypatch.setenv("VAEKIT_FIGURES", str(figures))
    monkeypatch.setenv("VAEKIT_NOTEBOOK_LIMIT", str(limit))
    monkeypatch.setenv("VAEKIT_NOTEBOOK_SAMPLES", str(samples))
    monkeypatch.delenv("VAEKIT_NOTEBOOK_FULL", raising=False)
    if data_root is None:
        monkeypatch.delenv("VAEKIT_DATA_ROOT", raising=False)
    else:
        monkeypatch.setenv("VAEKIT_DATA_ROOT", str(data_root))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    return nb


def outputs_text(nb) -> str:
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            parts.append(o.get("text", ""))
            parts.append(o.get("data", {}).get("text/markdown", ""))
    return "\n".join(parts)


def test_notebook_rebuilds_figures_and_metrics_of_tiny_checkpoints(tmp_path, monkeypatch):
    from vaekit.train import DataConfig, VAEConfig, build_model, save_checkpoint

    data_root = tmp_path / "data"
    write_fake_mnist(data_root, train=8, test=30, style="noise")
    checkpoints = tmp_path / "checkpoints"
    torch.manual_seed(0)
    for name, latent in (("mnist-z2", 2), ("tiny-z3", 3)):
        save_checkpoint(checkpoints / name, build_model(VAEConfig(dim=8, latent_dim=latent)),
                        data=DataConfig(dataset="mnist", data_root=str(data_root)),
                        metrics={"train_images": 8, "epochs": 1, "train_seconds": 1.0})
    figures = tmp_path / "figures"
    nb = run_notebook(monkeypatch, checkpoints=checkpoints, figures=figures, limit=20, samples=2)

    for name, expected in (("mnist-z2", 6), ("tiny-z3", 4)):
        pngs = sorted(p.name for p in (figures / name).glob("*.png"))
        assert len(pngs) == expected, pngs
    assert (figures / "mnist-z2" / "latent_manifold.png").is_file()
    assert not (figures / "tiny-z3" / "latent_space.png").exists()
    summary = json.loads((figures / "results.json").read_text())
    assert [r["model"] for r in summary["results"]] == ["mnist-z2", "tiny-z3"]
    assert summary["skipped"] == {} and summary["samples"] == 2
    for r in summary["results"]:
        assert r["test_images"] == 20 and r["backend"] == "torch"
        # the importance-sampled bound is a log-likelihood in nats: finite and negative
        assert np.isfinite(r["is_log_likelihood_nats"]) and r["is_log_likelihood_nats"] < 0
    text = outputs_text(nb)
    assert "| mnist-z2 | 20 |" in text  # the metrics table
    assert "IS log-likelihood (K=2)" in text


@pytest.mark.slow
@pytest.mark.realdata
def test_notebook_on_the_shipped_checkpoints(tmp_path, monkeypatch):
    checkpoints = ROOT / "checkpoints"
    shipped = sorted(p.name for p in checkpoints.glob("*") if (p / "config.json").is_file())
    assert shipped, f"no checkpoint under {checkpoints}: the shipped models are in git and must be there"
    figures = tmp_path / "figures"
    run_notebook(monkeypatch, checkpoints=checkpoints, figures=figures, limit=24, samples=2,
                 timeout=600)
    summary = json.loads((figures / "results.json").read_text())
    done = [r["model"] for r in summary["results"]]
    if not done:
        pytest.skip(f"the data of the shipped checkpoints is absent: {summary['skipped']}")
    assert sorted(done + list(summary["skipped"])) == shipped
    for r in summary["results"]:
        pngs = {p.name for p in (figures / r["model"]).glob("*.png")}
        prior = json.loads((checkpoints / r["model"] / "onnx" / "vaekit.json").read_text()).get("prior", {})
        side_by_side = prior.get("name", prior.get("kind", "normal")) != "normal"  # samples_vs_normal.png
        assert pngs == set(r["figures"]) and len(pngs) == (6 if r["latent_dim"] == 2 else 4) + side_by_side
        assert np.isfinite(r["elbo_nats"]) and np.isfinite(r["is_log_likelihood_nats"])
