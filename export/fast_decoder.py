"""Ship a checkpoint's distilled student (``CHECKPOINT/student``) as ``decoder.fast.onnx``.

The student goes through the same :func:`~vaekit.export.graphs.export_graph` as the other
graphs (so the same portability checks), its parity with PyTorch is checked at batch 1, 7
and 64, and ``vaekit.json["fast_decoder"]`` records what a user weighs it by: PSNR and
SSIM against the teacher's decoder on test-image posteriors and on prior samples, its
parameters and FLOPs beside the teacher's, and batch-1 latency of both on ONNX Runtime CPU.
A student whose latent size, image shape or classes differ from the checkpoint's, or that
was distilled from other weights, is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from vaekit.format import (
    DECODER_OUTPUTS,
    LABEL_INPUT,
    METRICS,
    WEIGHTS,
    fast_decoder_file,
    graph_file,
    graph_inputs,
    metadata_props,
    sha256_file,
)
from vaekit.runtime.session import build_session
from vaekit.train.checkpoint import CheckpointError
from vaekit.train.model import VAE
from vaekit.train.student import count_parameters
from vaekit.train.student_folder import (
    check_matches_teacher,
    has_student,
    load_student,
    student_folder,
)

from .fast_metrics import interleaved_latency, psnr, ssim
from .graphs import export_graph
from .parity import PARITY_BATCHES, TOLERANCE, ParityError
from .precisions import file_entry

QUALITY_LATENTS = 256
LATENCY_THREADS = 2
LATENCY_REPEATS = 200
SEED = 0
#: why ``--int8`` writes no int8 copy of the student
INT8_NOTE = ("not written: static int8 made the shipped mnist-z2 student no faster on ONNX Runtime CPU "
             "(4.7x the teacher vs 5.2x in fp32), cost it 2.6 dB, and ONNX Runtime 1.16 computed the "
             "QDQ graph 0.14 away from 1.31")


def fast_decoder_props(contract: dict[str, Any], precision: str) -> dict[str, str]:
    """The student graph's metadata: the decoder's contract plus ``decoder_kind: fast``."""
    return {**metadata_props(contract, graph="decoder", precision=precision), "decoder_kind": "fast"}


def export_fast_decoder(
    folder: Path, checkpoint: Path, model: VAE, contract: dict[str, Any], *,
    latents: dict[str, np.ndarray], variants: list[str],
) -> dict[str, Any] | None:
    """Write ``decoder.fast.onnx`` (and its fp16 copy when ``variants`` has fp16; int8: see
    :data:`INT8_NOTE`) into ``folder``;
    returns the ``fast_decoder`` record, or None when the checkpoint has no student.

    ``latents``: the decoder feed of test-image posterior means (the export's PSNR latents).
    """
    if not has_student(checkpoint):
        return None
    where = student_folder(checkpoint)
    student, record = load_student(where)
    check_matches_teacher(student.config, contract, str(where))
    if record["teacher"].get("checkpoint_sha256") != contract["checkpoint_sha256"]:
        raise CheckpointError(
            f"the student in {where} was distilled from other weights than {checkpoint}'s "
            f"(teacher sha256 differs): distil it again with `python -m vaekit.train.distill "
            f"{checkpoint} --overwrite`, or delete {where}")
    ins = graph_inputs(contract, "decoder")
    feeds = {"posterior": latents, "prior": _prior_feed(model, latents)}
    path = folder / fast_decoder_file()
    example = tuple(torch.from_numpy(latents[n][:2]) for n in ins)
    graph = export_graph(student, example, path, input_names=ins, output_names=DECODER_OUTPUTS,
                         props=fast_decoder_props(contract, "fp32"), doc=_doc(contract, "fp32"))
    entry = {**file_entry(path, contract, "decoder", graph),
             "parity": _parity(student, path, latents, ins),
             "student": record["model"], "distill": record["distill"],
             "student_sha256": sha256_file(where / WEIGHTS),
             "trained_steps": _steps(where)}
    teacher_out = {k: build_session(folder / graph_file("decoder")).run(None, f)[0] for k, f in feeds.items()}
    entry["quality"] = _quality(build_session(path), feeds, teacher_out)
    entry["cost"] = _cost(model, student, contract)
    entry["latency"] = _latency(folder, {"fp32": path}, feeds["posterior"])
    entry["variants"] = {}
    if "int8" in variants:
        entry["not_written"] = {"int8": INT8_NOTE}
    for precision in (p for p in variants if p != "int8"):
        vpath = folder / fast_decoder_file(precision)
        props, doc = fast_decoder_props(contract, precision), _doc(contract, precision)
        vgraph = export_graph(student, example, vpath, input_names=ins, output_names=DECODER_OUTPUTS,
                              props=props, doc=doc, half=True)
        ventry = file_entry(vpath, contract, "decoder", vgraph)
        ventry["quality"] = _quality(build_session(vpath), feeds, teacher_out)
        ventry["latency"] = _latency(folder, {precision: vpath}, feeds["posterior"])
        entry["variants"][precision] = ventry
    return entry


def fast_entries(contract: dict[str, Any]) -> list[dict[str, Any]]:
    """The file entries of every fast-decoder graph an export holds (none without a student)."""
    fast = contract.get("fast_decoder")
    return [fast, *fast["variants"].values()] if fast else []


def _doc(contract: dict[str, Any], precision: str) -> str:
    return (f"vaekit fast decoder ({precision}, distilled) for {contract['dataset']}: z float32 "
            f"[N, {contract['latent_dim']}] -> image float32 [N, {contract['channels']}, "
            f"{contract['height']}, {contract['width']}] in [0, 1]")


def _steps(where: Path) -> int | None:
    import json

    try:
        return int(json.loads((where / METRICS).read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@torch.no_grad()
def _prior_feed(model: VAE, latents: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``QUALITY_LATENTS`` draws from the model's own prior (a VampPrior's mixture, else N(0, I))."""
    g = torch.Generator().manual_seed(SEED + 7)
    d = latents["z"].shape[1]
    components = model.eval().prior_components()
    if components is None:
        z = torch.randn((QUALITY_LATENTS, d), generator=g)
    else:
        means, logvars = (t.float() for t in components)
        k = torch.randint(0, len(means), (QUALITY_LATENTS,), generator=g)
        z = means[k] + torch.randn((QUALITY_LATENTS, d), generator=g) * (0.5 * logvars[k]).exp()
    feed = {"z": z.numpy().astype(np.float32)}
    if LABEL_INPUT in latents:
        feed[LABEL_INPUT] = np.resize(latents[LABEL_INPUT], QUALITY_LATENTS).astype(np.int64)
    return feed


def _parity(student: nn.Module, path: Path, latents: dict[str, np.ndarray],
            ins: tuple[str, ...]) -> dict[str, float]:
    session = build_session(path)
    result = {}
    for b in PARITY_BATCHES:
        feed = {n: latents[n][:b] for n in ins}
        with torch.inference_mode():
            want = student(*(torch.from_numpy(feed[n]) for n in ins)).numpy()
        got = session.run(None, feed)[0]
        result[str(b)] = float(np.abs(got.astype(np.float64) - want).max()) if np.isfinite(got).all() else float("inf")
    bad = {b: d for b, d in result.items() if not d <= TOLERANCE}
    if bad:
        raise ParityError(f"ONNX Runtime and PyTorch disagree on the fast decoder beyond {TOLERANCE:g} "
                          f"({bad}); nothing was written")
    return {"tolerance": TOLERANCE, **result}


def _quality(session, feeds: dict[str, dict[str, np.ndarray]],
             teacher_out: dict[str, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {"latents": {"posterior": f"{QUALITY_LATENTS} test-image encoder means",
                                       "prior": f"{QUALITY_LATENTS} draws from the model's prior"},
                           "reference": f"{graph_file('decoder')} (fp32)"}
    for name, feed in feeds.items():
        got = session.run(None, feed)[0]
        out[name] = {"psnr_db": psnr(got, teacher_out[name]), "ssim": ssim(got, teacher_out[name])}
    return out


def conv_flops(module: nn.Module, *inputs: torch.Tensor) -> int:
    """FLOPs of one call on ``inputs`` counted as benchmarks/flops.py counts a graph: 2 per
    multiply-add of every Conv2d and Linear (biases, norms and activations not counted)."""
    total = 0

    def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
            total += 2 * out.numel() * k
        else:
            total += 2 * out.numel() * m.in_features

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.inference_mode():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total


def _cost(model: VAE, student: nn.Module, contract: dict[str, Any]) -> dict[str, Any]:
    z = torch.zeros((1, int(contract["latent_dim"])))
    label = (torch.zeros(1, dtype=torch.int64),) if contract.get("num_classes") else ()
    teacher = model.decoder_mean().eval()
    return {"parameters": count_parameters(student), "teacher_parameters": count_parameters(teacher),
            "flops_per_image": conv_flops(student, z, *label),
            "teacher_flops_per_image": conv_flops(teacher, z, *label),
            "flops_counted": "2 per multiply-add of Conv and Gemm (as benchmarks/flops.py)"}


def _latency(folder: Path, graphs: dict[str, Path], feed: dict[str, np.ndarray]) -> dict[str, Any]:
    """Batch-1 milliseconds of the teacher and the given graphs, interleaved, on this machine."""
    one = {k: v[:1] for k, v in feed.items()}
    sessions = {"teacher": build_session(folder / graph_file("decoder"), threads=LATENCY_THREADS),
                **{k: build_session(p, threads=LATENCY_THREADS) for k, p in graphs.items()}}
    ms = interleaved_latency({k: (lambda s=s: s.run(None, one)) for k, s in sessions.items()},
                             repeats=LATENCY_REPEATS)
    student = next(iter(graphs))
    return {"batch": 1, "provider": "CPUExecutionProvider", "threads": LATENCY_THREADS,
            "runs": LATENCY_REPEATS, "teacher_ms": ms["teacher"], "fast_ms": ms[student],
            "speedup": round(ms["teacher"] / ms[student], 2),
            "how": "median of interleaved runs at export time on the exporting machine"}
