"""The backends a graph is timed on, each behind the same small :class:`Runner` interface.

``ort-basic`` / ``ort-all``: the fp32 graph in an ONNX Runtime CPU session with graph
optimisation level basic / all. ``ort-int8`` / ``ort-fp16``: the ``--int8`` / ``--fp16``
graphs (CPU, level all). ``ort-cuda``: the fp32 graph on the CUDA provider, only where the
created session really runs on it. ``runtime``: ``vaekit.runtime.VAE`` (the fp32 graphs plus
its input checks). ``torch-eager``: the PyTorch module under ``torch.inference_mode``.
``torch-compile``: ``torch.compile`` of the same module (default settings: the first batch
size compiles a static graph, the second a dynamic one that later sizes reuse).
``openvino`` / ``openvino-int8``: the same fp32 / int8 ``.onnx`` files compiled by OpenVINO's
CPU plugin (the ``openvino`` wheel; f32 inference precision, so the parity check is the fp32
backends' one, and latency hint), the CPU runtime users would pick instead of ONNX Runtime.

A backend that cannot run here raises :class:`Unavailable` with the reason, which the
benchmark turns into a skip and the report into a line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .models import BenchModel

BACKENDS = (
    "ort-basic", "ort-all", "ort-int8", "ort-fp16", "ort-cuda", "runtime", "openvino",
    "openvino-int8", "torch-eager", "torch-compile",
)
FP32_BACKENDS = ("ort-basic", "ort-all", "ort-cuda", "runtime", "openvino", "torch-eager", "torch-compile")


class Unavailable(Exception):
    """This backend cannot run here; ``str(exc)`` says why."""


def threads() -> int:
    """Threads every backend may use (``VAEKIT_BENCH_THREADS``, default: all cores)."""
    value = os.environ.get("VAEKIT_BENCH_THREADS") or str(os.cpu_count() or 1)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"VAEKIT_BENCH_THREADS must be a positive integer, got {value!r}")
    return int(value)


@dataclass
class Runner:
    """``call(prepared)`` is what gets timed; ``prepare``/``finish`` convert outside the timing.

    ``prepare``: numpy float32 input -> what ``call`` takes. ``finish``: what ``call``
    returned -> list of float32 numpy outputs (``[image]`` or ``[mean, logvar]``).
    """

    backend: str
    call: Callable[[Any], Any]
    prepare: Callable[[np.ndarray], Any]
    finish: Callable[[Any], list[np.ndarray]]
    info: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- ONNX Runtime


def _ort_runner(backend: str, path, *, level: str, providers: list[str]) -> Runner:
    """A bare onnxruntime session (the runtime's one session builder) on ``path``."""
    from vaekit.runtime.session import build_session

    try:
        session = build_session(path, providers=providers, threads=threads(), optimization=level,
                                log_level=4 if providers[0] != "CPUExecutionProvider" else 3)
    except ValueError as e:  # build_session names the file and the onnxruntime error
        raise Unavailable(f"onnxruntime cannot load {path.name}: {str(e)[:300]}") from e
    used = session.get_providers()
    if used[0] != providers[0]:
        raise Unavailable(f"{providers[0]} not available on this machine ({_cuda_reason()}); "
                          f"the session fell back to {used[0]}")
    inp = session.get_inputs()[0]
    dtype = np.float16 if inp.type == "tensor(float16)" else np.float32
    name = inp.name

    def call(feed):
        return session.run(None, feed)

    return Runner(
        backend=backend, call=call,
        prepare=lambda x: {name: np.ascontiguousarray(x, dtype=dtype)},
        finish=lambda outs: [np.asarray(o, dtype=np.float32) for o in outs],
        info={"providers": used, "graph": path.name, "level": level},
    )


def _cuda_reason() -> str:
    from vaekit.runtime.providers import cuda_device_problem

    return cuda_device_problem() or "the CUDA provider failed to start"


# ----------------------------------------------------------------------------- OpenVINO


def _openvino_runner(backend: str, path) -> Runner:
    """``path`` compiled by OpenVINO's CPU plugin, one infer request reused across calls."""
    try:
        import openvino as ov
    except ImportError as e:
        raise Unavailable("openvino is not installed (`pip install openvino`, or `make bench`)") from e
    config = {"INFERENCE_NUM_THREADS": threads(), "PERFORMANCE_HINT": "LATENCY",
              "INFERENCE_PRECISION_HINT": "f32"}
    try:
        compiled = ov.Core().compile_model(str(path), "CPU", config)
    except RuntimeError as e:
        raise Unavailable(f"OpenVINO cannot compile {path.name}: {str(e).strip().splitlines()[-1][:300]}") from e
    request = compiled.create_infer_request()
    outputs = compiled.outputs

    def call(x):
        request.infer({0: x})
        return request

    return Runner(
        backend=backend, call=call, prepare=lambda x: np.ascontiguousarray(x, dtype=np.float32),
        finish=lambda req: [np.array(req.get_tensor(o).data, dtype=np.float32) for o in outputs],
        info={"graph": path.name, "openvino": ov.__version__},
    )


# ----------------------------------------------------------------------------- runtime


def _runtime_runner(model: BenchModel, part: str) -> Runner:
    from vaekit.runtime import VAE

    try:
        vae = VAE.load(model.export_dir, providers="cpu", threads=threads(), max_batch=4096)
    except (FileNotFoundError, ValueError) as e:
        raise Unavailable(f"vaekit.runtime cannot load {model.export_dir}: {e}") from e
    call = vae.decode if part == "decoder" else vae.encode
    return Runner(
        backend="runtime", call=call, prepare=lambda x: x,
        finish=lambda out: [out] if part == "decoder" else list(out),
        info={"providers": vae.providers},
    )


# ----------------------------------------------------------------------------- PyTorch


def torch_module(model: BenchModel, part: str):
    import torch
    from vaekit.train import load_model

    torch.set_num_threads(threads())
    vae = load_model(model.checkpoint)
    return vae.encoder if part == "encoder" else vae.decoder_mean().eval()


def _torch_runner(backend: str, module) -> Runner:
    import torch

    def call(x):
        with torch.inference_mode():
            return module(x)

    def finish(out):
        outs = out if isinstance(out, tuple) else (out,)
        return [o.detach().float().numpy() for o in outs]

    return Runner(backend=backend, call=call, prepare=torch.from_numpy, finish=finish)


@dataclass
class CompileState:
    """torch.compile bookkeeping over a session: seconds spent, and failures per module."""

    budget_s: float
    spent_s: float = 0.0
    compiled: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def compiled_runner(key: str, module, state: CompileState) -> Runner:
    """A runner over ``torch.compile(module)``; compiling happens on its first call.

    The first call's time (which includes compiling) is added to ``state.spent_s`` by the
    caller through :func:`first_call`. Once the budget is spent, modules not compiled yet are
    :class:`Unavailable`.
    """
    import torch

    if key in state.failed:
        raise Unavailable(state.failed[key])
    if key not in state.compiled:
        if state.spent_s > state.budget_s:
            raise Unavailable(
                f"torch.compile budget of {state.budget_s:.0f} s used up ({state.spent_s:.0f} s "
                f"spent compiling earlier modules on this CPU)"
            )
        state.compiled[key] = torch.compile(module)
    return _torch_runner("torch-compile", state.compiled[key])


def first_call(runner: Runner, prepared, *, state: CompileState | None = None, key: str = ""):
    """Run once untimed (warm-up, compile); returns (output, seconds). Records compile errors."""
    start = time.perf_counter()
    try:
        out = runner.call(prepared)
    except Exception as e:  # inductor/dynamo raise many error types (BackendCompilerFailed, ...)
        if state is None:
            raise
        reason = f"torch.compile failed on this CPU: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
        state.failed[key] = reason
        raise Unavailable(reason) from e
    seconds = time.perf_counter() - start
    if state is not None:
        state.spent_s += seconds
    return out, seconds


def make_runner(model: BenchModel, part: str, backend: str, *, modules: dict, compile_state: CompileState) -> Runner:
    """The runner of ``backend`` for ``model``'s ``part``; raises :class:`Unavailable`."""
    cpu = ["CPUExecutionProvider"]
    if backend in ("ort-basic", "ort-all"):
        return _ort_runner(backend, model.graphs["fp32"][part], level=backend[4:], providers=cpu)
    if backend in ("ort-int8", "ort-fp16"):
        precision = backend[4:]
        if precision not in model.graphs:
            raise Unavailable(f"no {precision} graphs: the exporter wrote none for {model.name} "
                              f"({'; '.join(model.notes) or 'see python -m vaekit.export --help'})")
        return _ort_runner(backend, model.graphs[precision][part], level="all", providers=cpu)
    if backend == "ort-cuda":
        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise Unavailable("CUDAExecutionProvider not available on this machine "
                              "(this onnxruntime build has no CUDA)")
        from vaekit.runtime.providers import cuda_device_problem

        reason = cuda_device_problem()
        if reason:
            raise Unavailable(f"CUDAExecutionProvider not available on this machine ({reason})")
        return _ort_runner(backend, model.graphs["fp32"][part], level="all",
                           providers=["CUDAExecutionProvider", *cpu])
    if backend == "runtime":
        return _runtime_runner(model, part)
    if backend in ("openvino", "openvino-int8"):
        precision = "int8" if backend.endswith("int8") else "fp32"
        if precision not in model.graphs:
            raise Unavailable(f"no {precision} graphs for {model.name}")
        return _openvino_runner(backend, model.graphs[precision][part])
    key = f"{model.name}/{part}"
    if key not in modules:
        modules[key] = torch_module(model, part)
    if backend == "torch-eager":
        return _torch_runner(backend, modules[key])
    if backend == "torch-compile":
        return compiled_runner(key, modules[key], compile_state)
    raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
