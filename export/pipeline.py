"""Export a checkpoint folder to an export folder, with parity checked before it lands.

The folder is built in a hidden temporary sibling (``.NAME.tmp-*``), validated (ONNX
checker, ONNX Runtime CPU vs PyTorch at batch 1, 7 and 64), and only then swapped into
place. A failed export removes its temporary folder and leaves any previous export intact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx
from tqdm import tqdm
from vaekit.format import (
    CONTRACT_FILE,
    EXAMPLES_FILE,
    latent_is_plottable,
)
from vaekit.train.checkpoint import (
    load_configs,
    load_model,
)
from vaekit.train.student_folder import has_student

from .contract_build import model_facts, save_contract
from .destinations import check_destination
from .fast_decoder import export_fast_decoder, fast_entries
from .feeds import load_test_split, parity_inputs, write_examples
from .freshness import default_out, fitted_prior_files
from .onnx_checks import CLIENT_LIMITS, required_versions
from .parity import TOLERANCE, ParityError, enforce_tolerance, onnx_parity, torch_outputs
from .precisions import Baseline, graph_inputs_of, write_graph, write_variant
from .prior_graph import AUTO, write_prior
from .stale import staged

__all__ = ["ParityError", "default_examples", "export_checkpoint"]


def default_examples(latent_dim: int) -> int:
    """2000 for 2-D latents (the demo scatters them), else 64."""
    return 2000 if latent_is_plottable(latent_dim) else 64


def export_checkpoint(
    checkpoint: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    fp16: bool = False,
    int8: bool = False,
    examples: int | None = None,
    data_root: str | None = None,
    progress: bool = True,
    prior: str = AUTO,
) -> dict[str, Any]:
    """Export ``checkpoint`` to ``out`` (default ``CHECKPOINT/onnx``); returns the contract dict.

    ``examples``: how many test images to save in examples.npz (None: 2000 for 2-D
    latents, else 64; 0: none). ``data_root`` overrides the checkpoint's data root.
    ``prior``: what ``sample`` draws from by default (``prior.onnx``; see
    :func:`~vaekit.export.prior_graph.choose_prior`): ``auto``, ``normal`` or a prior's name.
    Raises FileNotFoundError/ValueError for a bad checkpoint or ``out``, ParityError when
    ONNX Runtime and PyTorch disagree, ExportError when the exporter or checker fails.
    """
    checkpoint = Path(checkpoint)
    out = Path(out) if out is not None else default_out(checkpoint)
    _check_out(out)
    if examples is not None and examples < 0:
        raise ValueError(f"examples must be >= 0, got {examples}")
    model_cfg, data_cfg, _ = load_configs(checkpoint)  # the one read of config.json
    model = load_model(checkpoint, config=model_cfg)
    check_destination(out, "--out")  # a read-only parent: refused before any work
    n_examples = default_examples(model_cfg.latent_dim) if examples is None else examples
    variants = [p for p, on in (("fp16", fp16), ("int8", int8)) if on]
    fast = ["fast decoder"] if has_student(checkpoint) else []
    stages = ["test images", "encoder", "decoder", "parity", *variants, *fast, "write"]
    with _Progress(stages, f"export {checkpoint.name}", progress) as stage, staged(out) as tmp:
        stage("test images")
        test, note = load_test_split(model, checkpoint, data_cfg, data_root)
        contract = model_facts(model, data_cfg, checkpoint, test)
        contract["prior"] = write_prior(tmp, checkpoint, model, contract, prior).to_dict()
        contract["fitted_priors"] = fitted_prior_files(checkpoint)
        contract["parity"] = {"tolerance": TOLERANCE, "inputs": "test images" if test else "uniform noise"}
        inputs = parity_inputs(model, test)
        modules = {"encoder": model.encoder.eval(), "decoder": model.decoder_mean().eval()}
        for name, module in modules.items():
            stage(name)
            contract[name] = write_graph(tmp, contract, name, module, inputs)

        stage("parity")
        reference = torch_outputs(modules["encoder"], modules["decoder"], inputs)
        parity = onnx_parity(tmp, "fp32", inputs, reference, graph_inputs_of(contract))
        contract["parity"].update(parity)
        enforce_tolerance(parity, checkpoint)

        contract["variants"] = {}
        if variants or fast:
            base = Baseline.measure(tmp, contract, model, modules=modules, inputs=inputs,
                                    reference=reference, test=test)
        for precision in variants:
            stage(precision)
            contract["variants"][precision] = write_variant(precision, base)
        if fast:  # a distilled student (python -m vaekit.train.distill) ships as decoder.fast.onnx
            stage("fast decoder")
            contract["fast_decoder"] = export_fast_decoder(tmp, checkpoint, model, contract,
                                                           latents=base.latents, variants=variants)

        stage("write")
        contract["requires"] = _requires(tmp, contract)
        contract["examples"] = None
        if n_examples and test is not None:
            contract["examples"] = write_examples(tmp / EXAMPLES_FILE, test, n_examples)
        elif n_examples:
            print(f"note: {EXAMPLES_FILE} not written: {note}")
        contract = save_contract(tmp, contract).to_dict()  # typed and checked, then written
    return contract


# ----------------------------------------------------------------------------- pieces


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: pass a folder path")
    if out.is_dir() and any(out.iterdir()) and not (out / CONTRACT_FILE).is_file():
        raise ValueError(
            f"--out {out} exists and is not a vaekit export folder (no {CONTRACT_FILE}): choose "
            f"another --out, or empty it first (nothing was written)"
        )


def _requires(folder: Path, contract: dict[str, Any]) -> dict[str, Any]:
    """What a client needs to load every graph written: highest IR version, opsets, ONNX Runtime."""
    entries = [contract[g] for g in ("encoder", "decoder")]
    entries += [v[g] for v in contract["variants"].values() for g in ("encoder", "decoder")]
    entries += fast_entries(contract)
    needs = [required_versions(onnx.load(str(folder / e["file"]), load_external_data=False)) for e in entries]
    opsets: dict[str, int] = {}
    for n in needs:
        for domain, version in n["opsets"].items():
            opsets[domain] = max(version, opsets.get(domain, 0))
    return {"ir_version": max(n["ir_version"] for n in needs), "opsets": opsets,
            "onnxruntime": f">={needs[0]['onnxruntime']}", "batch_sizes": "any N >= 1",
            "client_limits": [dict(limit) for limit in CLIENT_LIMITS
                              if limit.get("input") in (None, *contract.get("decoder_inputs", ()))]}


class _Progress:
    """The export's progress bar over ``stages``: ``stage(name)`` finishes the stage before
    and names the next one; leaving the block without an error finishes the last."""

    def __init__(self, stages: list[str], desc: str, enabled: bool):
        self.bar = tqdm(stages, desc=desc, disable=not enabled, leave=False)
        self.started = False

    def __call__(self, name: str) -> None:
        if self.started:
            self.bar.update()
        self.started = True
        self.bar.set_postfix_str(name)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None and self.started:
            self.bar.update()
        self.bar.close()
