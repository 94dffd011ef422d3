"""Export a checkpoint folder to an export folder, with parity checked before it lands.

The folder is built in a hidden temporary sibling (``.NAME.tmp-*``), validated (ONNX
checker, ONNX Runtime CPU vs PyTorch at batch 1, 7 and 64), and only then swapped into
place. A failed export removes its temporary folder and leaves any previous export intact.
"""

from __future__ import annotations

import math
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from tqdm import tqdm
from vaekit.format import (
    CONTRACT_FILE,
    DECODER_OUTPUTS,
    ENCODER_OUTPUTS,
    EXAMPLES_FILE,
    LABEL_INPUT,
    graph_file,
    graph_inputs,
    graph_shapes,
    image_shape,
    latent_is_plottable,
    metadata_props,
    sha256_file,
)
from vaekit.runtime.cpu import int8_kernel, simd_summary
from vaekit.runtime.session import build_session
from vaekit.train.checkpoint import (
    load_checkpoint_split,
    load_configs,
    load_model,
)
from vaekit.train.data import ImageSplit
from vaekit.train.model import VAE
from vaekit.train.student_folder import has_student

from .contract_build import model_facts, save_contract
from .destinations import check_destination
from .fast_decoder import export_fast_decoder, fast_entries
from .freshness import default_out, fitted_prior_files
from .graphs import export_graph, graph_opset, quantize_int8
from .onnx_checks import (
    CLIENT_LIMITS,
    INT16_MAX,
    cuda_outputs,
    fp16_computed_outputs,
    int8_pair_sums,
    required_versions,
)
from .prior_graph import AUTO, write_prior
from .stale import clean_stale, staging_prefix, swap_into_place

PARITY_BATCHES = (1, 7, 64)
TOLERANCE = 1e-4
#: fp16 graphs computed in real float16 must match PyTorch float32 within this (max abs diff)
FP16_TOLERANCE = 1e-2
FP16_COMPUTED_BATCH = 4  # the reference evaluator is numpy: a small batch keeps it quick
PSNR_LATENTS = 256
SEED = 0


class ParityError(ValueError):
    """ONNX Runtime and PyTorch disagree by more than the tolerance."""


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
    model = load_model(checkpoint)
    model_cfg, data_cfg, _ = load_configs(checkpoint)
    check_destination(out, "--out")  # a read-only parent: refused before any work
    n_examples = default_examples(model_cfg.latent_dim) if examples is None else examples
    variants = [p for p, on in (("fp16", fp16), ("int8", int8)) if on]
    fast = ["fast decoder"] if has_student(checkpoint) else []
    stages = ["test images", "encoder", "decoder", "parity", *variants, *fast, "write"]
    bar = tqdm(stages, desc=f"export {checkpoint.name}", disable=not progress, leave=False)

    def stage(name: str) -> None:
        bar.set_postfix_str(name)

    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out)  # what killed exports to this folder left behind
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=staging_prefix(out, "tmp")))
    tmp.chmod(0o755)  # mkdtemp makes it private; the export is an ordinary folder
    try:
        stage("test images")
        test, note = _test_images(model, checkpoint, data_root)
        bar.update()
        contract = model_facts(model, data_cfg, checkpoint, test)
        contract["prior"] = write_prior(tmp, checkpoint, model, contract, prior).to_dict()
        contract["fitted_priors"] = fitted_prior_files(checkpoint)
        contract["parity"] = {"tolerance": TOLERANCE, "inputs": "test images" if test else "uniform noise"}
        inputs = _parity_inputs(model, test)
        graph_ins = {g: graph_inputs(contract, g) for g in ("encoder", "decoder")}

        encoder, decoder = model.encoder.eval(), model.decoder_mean().eval()
        for name, module, outs in (("encoder", encoder, ENCODER_OUTPUTS),
                                   ("decoder", decoder, DECODER_OUTPUTS)):
            stage(name)
            path = tmp / graph_file(name)
            ins = graph_ins[name]
            example = tuple(inputs[n][:2] for n in ins)
            graph = export_graph(module, example, path, input_names=ins, output_names=outs,
                                 props=metadata_props(contract, graph=name, precision="fp32"),
                                 doc=_doc(contract, name, "fp32"))
            contract[name] = _file_entry(path, contract, name, graph)
            bar.update()

        stage("parity")
        reference = _torch_outputs(encoder, decoder, inputs)
        parity = _parity(tmp, "fp32", inputs, reference, graph_ins)
        contract["parity"].update(parity)
        _enforce_tolerance(parity, checkpoint)
        bar.update()

        contract["variants"] = {}
        if variants or fast:
            latents = _psnr_latents(tmp, model, test, graph_ins)
            ref_images = build_session(tmp / graph_file("decoder")).run(None, latents)[0]
        for precision in variants:
            stage(precision)
            contract["variants"][precision] = _variant(
                precision, tmp, contract, encoder, decoder, inputs, reference, latents, ref_images, test
            )
            bar.update()
        if fast:  # a distilled student (python -m vaekit.train.distill) ships as decoder.fast.onnx
            stage("fast decoder")
            contract["fast_decoder"] = export_fast_decoder(tmp, checkpoint, model, contract,
                                                           latents=latents, variants=variants)
            bar.update()

        stage("write")
        contract["requires"] = _requires(tmp, contract)
        contract["examples"] = None
        if n_examples and test is not None:
            contract["examples"] = _write_examples(tmp / EXAMPLES_FILE, test, n_examples)
        elif n_examples:
            print(f"note: {EXAMPLES_FILE} not written: {note}")
        contract = save_contract(tmp, contract).to_dict()  # typed and checked, then written
        swap_into_place(tmp, out)
        bar.update()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        bar.close()
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


def _doc(contract: dict[str, Any], graph: str, precision: str) -> str:
    (c, h, w), d = image_shape(contract), contract["latent_dim"]
    label = f", label int64 [N] in [0, {contract['num_classes']})" if contract.get("num_classes") else ""
    io = (f"image float32 [N, {c}, {h}, {w}] in [0, 1]{label} -> mean, logvar float32 [N, {d}]"
          if graph == "encoder" else
          f"z float32 [N, {d}]{label} -> image float32 [N, {c}, {h}, {w}] in [0, 1] ({contract['likelihood']} mean)")
    return f"vaekit {graph} ({precision}) for {contract['dataset']}: {io}"


def _file_entry(path: Path, contract: dict[str, Any], graph: str, model: onnx.ModelProto) -> dict[str, Any]:
    shapes = graph_shapes(contract, graph)
    names = (graph_inputs(contract, graph),
             ENCODER_OUTPUTS if graph == "encoder" else DECODER_OUTPUTS)
    return {
        "file": path.name,
        "inputs": {n: shapes[n] for n in names[0]},
        "outputs": {n: shapes[n] for n in names[1]},
        "opset": graph_opset(model),
        "ir_version": int(model.ir_version),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def _test_images(model: VAE, checkpoint: Path, data_root: str | None
                 ) -> tuple[ImageSplit | None, str]:
    """The checkpoint's test split (or None and the reason)."""
    try:
        split = load_checkpoint_split(checkpoint, "test", data_root=data_root)
    except (FileNotFoundError, ValueError) as e:
        return None, str(e).splitlines()[0]
    cfg = model.config
    want = image_shape(cfg)
    if tuple(split.images.shape[1:]) != want:
        return None, f"the test images are {tuple(split.images.shape[1:])}, the model takes {want}"
    return split, ""


def _order(n: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(SEED))


def _parity_inputs(model: VAE, test: ImageSplit | None) -> dict[str, torch.Tensor]:
    """64 images (real test images when available, else seeded noise) and 64 latents ~ N(0, I)."""
    g = torch.Generator().manual_seed(SEED)
    cfg = model.config
    n = max(PARITY_BATCHES)
    if test is not None and len(test) >= n:
        images = test.float_batch(_order(len(test))[:n])
    else:
        images = torch.rand((n, *image_shape(cfg)), generator=g)
    inputs = {"image": images, "z": torch.randn((n, cfg.latent_dim), generator=g)}
    if model.conditional:  # the test images' own labels, else seeded ones
        labelled = test is not None and len(test) >= n and test.labels.min() >= 0
        inputs[LABEL_INPUT] = (test.labels[_order(len(test))[:n]] if labelled
                               else torch.randint(0, model.config.num_classes, (n,), generator=g))
    return inputs


@torch.inference_mode()
def _torch_outputs(encoder: torch.nn.Module, decoder: torch.nn.Module,
                   inputs: dict[str, torch.Tensor]) -> dict[int, dict[str, np.ndarray]]:
    """PyTorch outputs per parity batch size (each batch run on its own)."""
    ref = {}
    for b in PARITY_BATCHES:
        label = (inputs[LABEL_INPUT][:b],) if LABEL_INPUT in inputs else ()
        mean, logvar = encoder(inputs["image"][:b], *label)
        image = decoder(inputs["z"][:b], *label)
        ref[b] = {"mean": mean.numpy(), "logvar": logvar.numpy(), "image": image.numpy()}
    return ref


def _parity(folder: Path, precision: str, inputs: dict[str, torch.Tensor],
            reference: dict[int, dict[str, np.ndarray]], graph_ins: dict[str, tuple[str, ...]],
            ) -> dict[str, dict[str, dict[str, float]]]:
    """``{"encoder": {"1": {"mean": d, "logvar": d}, ...}, "decoder": {"1": {"image": d}, ...}}``."""
    result: dict[str, dict[str, dict[str, float]]] = {"encoder": {}, "decoder": {}}
    sessions = {g: build_session(folder / graph_file(g, precision)) for g in ("encoder", "decoder")}
    for b in PARITY_BATCHES:
        mean, logvar = sessions["encoder"].run(None, {n: inputs[n][:b].numpy() for n in graph_ins["encoder"]})
        (image,) = sessions["decoder"].run(None, {n: inputs[n][:b].numpy() for n in graph_ins["decoder"]})
        got = {"mean": mean, "logvar": logvar, "image": image}
        for graph, names in (("encoder", ENCODER_OUTPUTS), ("decoder", DECODER_OUTPUTS)):
            result[graph][str(b)] = {n: _max_abs_diff(got[n], reference[b][n]) for n in names}
    return result


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ParityError(f"ONNX output shape {a.shape} differs from PyTorch's {b.shape}")
    if not np.isfinite(a).all():
        return math.inf
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def _enforce_tolerance(parity: dict[str, Any], checkpoint: Path) -> None:
    worst = [(g, b, n, d) for g in ("encoder", "decoder") for b, outs in parity[g].items()
             for n, d in outs.items() if not d <= TOLERANCE]
    if worst:
        listed = "; ".join(f"{g} {n} at batch {b}: {d:.3g}" for g, b, n, d in worst)
        raise ParityError(
            f"ONNX Runtime and PyTorch disagree beyond {TOLERANCE:g} for {checkpoint} ({listed}); "
            f"nothing was written. An op exports differently from how PyTorch computes it: report "
            f"it with this message, or export with another torch/onnxruntime version"
        )


def _psnr_latents(folder: Path, model: VAE, test: ImageSplit | None,
                  graph_ins: dict[str, tuple[str, ...]]) -> dict[str, np.ndarray]:
    """The decoder feed of 256 latents: encoder means of test images (the last 256 in the
    seeded order), else N(0, I); with their labels (else seeded ones) for a conditional model."""
    g = np.random.default_rng(SEED + 1)
    conditional = LABEL_INPUT in graph_ins["decoder"]
    labels = (g.integers(0, model.config.num_classes, PSNR_LATENTS) if conditional else None)
    if test is not None and len(test) >= PSNR_LATENTS:
        idx = _order(len(test))[-PSNR_LATENTS:]
        feed = {"image": test.float_batch(idx).numpy()}
        if conditional and test.labels.min() >= 0:
            labels = test.labels[idx].numpy()
        if conditional:
            feed[LABEL_INPUT] = labels.astype(np.int64)
        z = build_session(folder / graph_file("encoder")).run(None, feed)[0]
    else:
        z = g.standard_normal((PSNR_LATENTS, model.config.latent_dim), dtype=np.float32)
    return {"z": z, **({LABEL_INPUT: labels.astype(np.int64)} if conditional else {})}


def _calibration(shape: tuple[int, int, int], test: ImageSplit | None,
                 latents: dict[str, np.ndarray]) -> dict[str, list[Any]]:
    """Calibration batches for static int8: test images not used for PSNR, and latents (whole
    feeds with the latents' labels for a conditional model)."""
    if test is not None and len(test) >= 2 * PSNR_LATENTS:
        order = _order(len(test))[-2 * PSNR_LATENTS:-PSNR_LATENTS]
        images = test.float_batch(order).numpy()
    else:
        rng = np.random.default_rng(SEED + 2)
        images = rng.random((PSNR_LATENTS, *shape), dtype=np.float32)
    rng = np.random.default_rng(SEED + 3)
    z = np.concatenate([latents["z"], rng.standard_normal(latents["z"].shape, dtype=np.float32)])
    if LABEL_INPUT not in latents:
        return {"image": list(np.split(images, 4)), "z": list(np.split(z, 8))}
    labels = np.resize(latents[LABEL_INPUT], len(z))  # repeated to cover both halves of z
    return {"image": [{"image": i, LABEL_INPUT: y}
                      for i, y in zip(np.split(images, 4), np.split(labels[: len(images)], 4))],
            "z": [{"z": i, LABEL_INPUT: y} for i, y in zip(np.split(z, 8), np.split(labels, 8))]}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 200.0 if mse == 0 else round(min(200.0, 10 * math.log10(1.0 / mse)), 2)


def _variant(
    precision: str, folder: Path, contract: dict[str, Any], encoder: torch.nn.Module,
    decoder: torch.nn.Module, inputs: dict[str, torch.Tensor], reference: dict[int, dict[str, np.ndarray]],
    latents: dict[str, np.ndarray], ref_images: np.ndarray, test: ImageSplit | None,
) -> dict[str, Any]:
    """Write the fp16 or int8 graphs into ``folder`` and measure them against fp32."""
    entry: dict[str, Any] = {}
    pair_sums: list[int] = []
    calibration = _calibration(image_shape(contract), test, latents) if precision == "int8" else None
    for name, module, outs in (("encoder", encoder, ENCODER_OUTPUTS),
                               ("decoder", decoder, DECODER_OUTPUTS)):
        ins = graph_inputs(contract, name)
        path = folder / graph_file(name, precision)
        props = metadata_props(contract, graph=name, precision=precision)
        doc = _doc(contract, name, precision)
        if precision == "fp16":
            example = tuple(inputs[n][:2] for n in ins)
            graph = export_graph(module, example, path, input_names=ins, output_names=outs,
                                 props=props, doc=doc, half=True)
        else:
            graph = quantize_int8(folder / graph_file(name), path, input_name=ins[0],
                                  calibration=calibration[ins[0]], props=props, doc=doc)
            pair_sums.extend(int8_pair_sums(graph).values())
        entry[name] = _file_entry(path, contract, name, graph)
    if precision == "fp16":
        entry["fp16_computed"] = _fp16_computed_parity(folder, contract, inputs, reference)
    try:
        decoded = build_session(folder / graph_file("decoder", precision)).run(None, latents)[0]
    except Exception as e:  # noqa: BLE001 - onnxruntime's pybind errors (NOT_IMPLEMENTED for an fp16 kernel)
        entry.update(runs_on_cpu=False, note=(
            f"onnxruntime CPU cannot run the {precision} graphs ({type(e).__name__}: {str(e)[:200]}); "
            f"they passed onnx.checker only and are meant for GPU providers"))
        return entry
    entry["runs_on_cpu"] = True
    entry["parity_vs_torch_fp32"] = _parity(folder, precision, inputs, reference,
                                            {g: graph_inputs(contract, g) for g in ("encoder", "decoder")})
    entry["decoder_psnr_db_vs_fp32"] = _psnr(decoded, ref_images)
    entry["psnr_latents"] = f"{PSNR_LATENTS} " + ("test-image encoder means" if test is not None else "N(0, I) draws")
    if precision == "int8":
        entry["method"] = ("static QDQ, per-channel 7-bit int8 weights (|q| <= 64), uint8 activations, "
                           "percentile (99.999) calibration, output layer kept float")
        entry["int16_pair_sum_max"] = max(pair_sums, default=0)
        entry["kernel_paths"] = _int8_kernel_paths(folder, latents, ref_images, decoded, max(pair_sums, default=0))
        entry["decoder_psnr_db_vs_fp32"] = min(
            p["decoder_psnr_db_vs_fp32"] for p in entry["kernel_paths"].values()
            if p["decoder_psnr_db_vs_fp32"] is not None)
    else:
        entry["method"] = ("torch module in float16 behind float32 inputs/outputs; normalisation "
                           "layers in float32")
    return entry


def _int8_kernel_paths(folder: Path, latents: dict[str, np.ndarray], ref_images: np.ndarray,
                       host_images: np.ndarray, pair_sum_max: int) -> dict[str, dict[str, Any]]:
    """The int8 decoder's PSNR against fp32 on each integer path ONNX Runtime's kernels take.

    ``int32``: what kernels that accumulate in int32 compute (AVX-512 VNNI, AVX-VNNI, ARM,
    WebAssembly), measured with graph optimisations off (DequantizeLinear + float Conv: no
    host kernel involved). ``int16-pairs``: x86 without VNNI adds two products in int16; the
    bound ``int16_pair_sum_max`` <= 32767 proves no pair saturates, so it computes the int32
    sums and its PSNR is the int32 path's. ``host``: this exporting CPU's optimised kernels.
    """
    literal = build_session(folder / graph_file("decoder", "int8"), optimization="disable").run(None, latents)[0]
    exact = _psnr(literal, ref_images)
    safe = pair_sum_max <= INT16_MAX
    return {
        "int32": {"decoder_psnr_db_vs_fp32": exact, "cpus": "AVX-512 VNNI, AVX-VNNI, ARM, WebAssembly",
                  "measured": "ONNX Runtime, graph optimisations off (DequantizeLinear + float Conv)"},
        "int16-pairs": {"decoder_psnr_db_vs_fp32": exact if safe else None,
                        "cpus": "x86 without VNNI (SSE4.1, AVX2, AVX-512 without VNNI)",
                        "measured": (f"bound: every uint8 x int8 pair sums to at most {pair_sum_max} "
                                     f"<= {INT16_MAX}, so no int16 sum saturates and the int32 "
                                     f"path's figure holds") if safe else
                                    f"unsafe: pair sums reach {pair_sum_max} > {INT16_MAX}"},
        "host": {"decoder_psnr_db_vs_fp32": _psnr(host_images, ref_images),
                 "cpus": f"{platform.machine()} {simd_summary()} (the exporting CPU, {int8_kernel()})",
                 "measured": "ONNX Runtime, graph optimisations on"},
    }


def _fp16_computed_parity(folder: Path, contract: dict[str, Any], inputs: dict[str, torch.Tensor],
                          reference: dict[int, dict[str, np.ndarray]]) -> dict[str, Any]:
    """The fp16 graphs computed in real float16 (ONNX's reference evaluator) vs PyTorch fp32.

    ONNX Runtime's CPU provider quietly computes float16 graphs in float32, so only this
    check shows what a GPU computes; where ONNX Runtime's CUDA provider works, the graphs run
    there too (``result["cuda"]``). Raises ParityError beyond :data:`FP16_TOLERANCE`.
    """
    b = FP16_COMPUTED_BATCH
    ref = {k: v[:b] for k, v in reference[min(x for x in PARITY_BATCHES if x >= b)].items()}
    result: dict[str, Any] = {"batch": b, "evaluator": "onnx.reference.ReferenceEvaluator",
                              "tolerance": FP16_TOLERANCE}
    for graph, outs in (("encoder", ENCODER_OUTPUTS), ("decoder", DECODER_OUTPUTS)):
        feeds = {n: inputs[n][:b].numpy() for n in graph_inputs(contract, graph)}
        got = fp16_computed_outputs(str(folder / graph_file(graph, "fp16")), feeds)
        result[graph] = {n: _max_abs_diff(g, ref[n]) for n, g in zip(outs, got)}
        on_cuda = cuda_outputs(str(folder / graph_file(graph, "fp16")), feeds)
        if on_cuda is not None:
            result.setdefault("cuda", {})[graph] = {n: _max_abs_diff(g, ref[n]) for n, g in zip(outs, on_cuda)}
    bad = [f"{g} {n}: {d:.3g}" for g in ("encoder", "decoder") for n, d in result[g].items()
           if not d <= FP16_TOLERANCE]
    bad += [f"{g} {n} on CUDA: {d:.3g}" for g, outs in result.get("cuda", {}).items()
            for n, d in outs.items() if not d <= FP16_TOLERANCE]
    if bad:
        raise ParityError(
            f"the float16 graphs computed in float16 differ from PyTorch float32 beyond "
            f"{FP16_TOLERANCE:g} ({'; '.join(bad)}); nothing was written. An op overflows or loses "
            f"precision in float16: keep it in float32 (vaekit.export.graphs.FP32_LAYERS), or "
            f"export without --fp16")
    return result


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


def _write_examples(path: Path, test: ImageSplit, n: int) -> dict[str, Any]:
    idx = _order(len(test))[: min(n, len(test))].sort().values
    images = test.images[idx].numpy().astype(np.uint8)
    labels = test.labels[idx].numpy().astype(np.int64)
    classes = np.array(list(test.classes), dtype=str)
    with open(path, "wb") as f:
        np.savez_compressed(f, images=images, labels=labels, classes=classes)
    return {"file": path.name, "count": len(idx), "split": "test", "bytes": path.stat().st_size}
