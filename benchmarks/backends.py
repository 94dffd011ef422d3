"""Every way a graph is timed, in one table (:data:`BACKENDS`) that both harnesses read.

``make bench`` (``benchmarks/test_latency.py``) times the rows marked ``bench``, each on its
``device``; ``benchmarks/gpu_runtime.py`` times the rows marked ``gpu`` on its ``--device``.
A row builds a :class:`Runner` (``prepare`` -> timed ``call`` -> ``finish``) for a
:class:`Target`, a model's part on a device, from one of these builders: ONNX Runtime
``session.run`` (:func:`ort_run`, at graph optimisation level basic or all, on the fp32, int8
or fp16 graph) or I/O binding with host or device-resident buffers and CUDA graphs
(:func:`ort_bound`); ``vaekit.runtime.VAE`` with its ``CudaOptions`` (:func:`runtime`);
OpenVINO's CPU plugin on the same ``.onnx`` files (:func:`openvino`, f32 inference precision,
latency hint); the PyTorch module eager or ``torch.compile``-d (:func:`torch_backend`; default
settings: the first batch size compiles a static graph, the second a dynamic one that later
sizes reuse), host in/out or device-resident on a GPU. CUDA rows run only where the session
really runs on the CUDA provider: a backend that cannot run here raises :class:`Unavailable`
with the reason, which the benchmarks turn into a skip (listed in the report) or an error row.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .models import BenchModel

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
#: parity against PyTorch eager per graph precision (None: shape and finiteness only; the int8
#: error is reported as PSNR instead)
TOLERANCE = {"fp32": 1e-3, "fp16": 5e-2, "int8": None}


class Unavailable(Exception):
    """This backend cannot run here; ``str(exc)`` says why."""


@dataclass
class Runner:
    """``call(prepared)`` is what gets timed; ``prepare``/``finish`` convert outside the timing.

    ``prepare``: numpy float32 input -> what ``call`` takes. ``finish``: what ``call``
    returned -> list of float32 numpy outputs (``[image]`` or ``[mean, logvar]``).
    ``compile_key``: set for torch.compile runners, whose first call compiles.
    """

    call: Callable[[Any], Any]
    prepare: Callable[[np.ndarray], Any]
    finish: Callable[[Any], list[np.ndarray]]
    info: dict[str, Any] = field(default_factory=dict)
    compile_key: str | None = None


@dataclass
class TorchCache:
    """PyTorch modules loaded once per model, part and device, and torch.compile's budget."""

    budget_s: float = 240.0
    spent_s: float = 0.0
    modules: dict[str, Any] = field(default_factory=dict)
    compiled: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class Target:
    """What a runner is built for: ``model``'s ``part`` on ``device`` (``cpu`` or ``cuda``).

    ``threads``: intra-op threads (None: the library's default). ``max_batch``: the largest
    batch the runtime accepts. ``torch``: modules shared by the torch backends.
    """

    model: BenchModel
    part: str
    device: str = "cpu"
    threads: int | None = None
    max_batch: int = 4096
    torch: TorchCache = field(default_factory=TorchCache)

    @property
    def key(self) -> str:
        return f"{self.model.name}/{self.part}/{self.device}"


@dataclass(frozen=True)
class Backend:
    """One row of :data:`BACKENDS`.

    ``build``: Target -> Runner. ``harnesses``: ``bench`` (``make bench``) and/or ``gpu``
    (``gpu_runtime.py``). ``device``: where ``make bench`` runs it. ``needs``: Python packages
    beyond numpy and onnxruntime. ``precision``: the graphs it runs (its parity tolerance).
    ``column``: its position in the report's summary table (None: per-model tables only).
    """

    name: str
    build: Callable[[Target], Runner]
    harnesses: tuple[str, ...]
    device: str = "cpu"
    needs: tuple[str, ...] = ()
    precision: str = "fp32"
    column: int | None = None


# ----------------------------------------------------------------------------- ONNX Runtime


def _graph(t: Target, precision: str):
    if precision not in t.model.graphs:
        raise Unavailable(f"no {precision} graphs: the exporter wrote none for {t.model.name} "
                          f"({'; '.join(t.model.notes) or 'see python -m vaekit.export --help'})")
    return t.model.graphs[precision][t.part]


def _session(t: Target, precision: str, *, level: str = "all", **cuda_options: str):
    """An onnxruntime session (the runtime's one session builder) that really runs on ``t.device``."""
    import onnxruntime as ort
    from vaekit.runtime.providers import cuda_device_problem
    from vaekit.runtime.session import build_session

    path, cuda = _graph(t, precision), t.device == "cuda"
    if cuda and CUDA not in ort.get_available_providers():
        raise Unavailable(f"{CUDA} not available on this machine (this onnxruntime build has no CUDA)")
    if cuda and cuda_device_problem():
        raise Unavailable(f"{CUDA} not available on this machine ({cuda_device_problem()})")
    try:
        session = build_session(path, providers=[(CUDA, {"device_id": "0", **cuda_options}), CPU] if cuda else [CPU],
                                threads=t.threads, optimization=level, log_level=4 if cuda else 3)
    except ValueError as e:  # build_session names the file and the onnxruntime error
        raise Unavailable(f"onnxruntime cannot load {path.name}: {str(e)[:300]}") from e
    if cuda and session.get_providers()[0] != CUDA:
        raise Unavailable(f"{CUDA} not available on this machine (the CUDA provider failed to start); "
                          f"the session fell back to {session.get_providers()[0]}")
    return session


def _dtype(arg) -> type:
    return np.float16 if arg.type == "tensor(float16)" else np.float32


def _host_outputs(outs) -> list[np.ndarray]:
    return [np.asarray(o, dtype=np.float32) for o in outs]


def ort_run(precision: str, level: str = "all") -> Callable[[Target], Runner]:
    """``session.run``: numpy in, numpy out."""

    def build(t: Target) -> Runner:
        session = _session(t, precision, level=level)
        inp = session.get_inputs()[0]
        return Runner(call=lambda feed: session.run(None, feed),
                      prepare=lambda x: {inp.name: np.ascontiguousarray(x, dtype=_dtype(inp))},
                      finish=_host_outputs,
                      info={"providers": session.get_providers(), "graph": _graph(t, precision).name,
                            "level": level})

    return build


def ort_bound(precision: str, *, resident: bool, cuda_graph: bool = False) -> Callable[[Target], Runner]:
    """I/O binding, bound once for one batch size; ``resident``: the input already on the device
    and the outputs left there (else host in and out, each copied once per call).
    ``cuda_graph``: fixed output buffers, and on CUDA a captured CUDA graph replayed per call."""

    def build(t: Target) -> Runner:
        import onnxruntime as ort

        graph = cuda_graph and t.device == "cuda"
        session = _session(t, precision, **({"enable_cuda_graph": "1"} if graph else {}))
        inp, outputs = session.get_inputs()[0], session.get_outputs()
        options = ort.RunOptions()
        if graph:
            options.add_run_config_entry("gpu_graph_id", "1")
        bound: dict[str, Any] = {}

        def prepare(x: np.ndarray) -> np.ndarray:
            x = np.ascontiguousarray(x, dtype=_dtype(inp))
            if bound and bound["x"].shape() != list(x.shape):
                raise ValueError("an I/O-bound runner serves one batch size; build another")
            if not bound:  # the input OrtValue is kept here: on the CPU it wraps x's memory
                bound.update(binding=session.io_binding(), x=ort.OrtValue.ortvalue_from_numpy(x, t.device, 0))
                bound["binding"].bind_ortvalue_input(inp.name, bound["x"])
                for o in outputs:
                    if cuda_graph:
                        shape = [x.shape[0], *[int(d) for d in o.shape[1:]]]
                        value = ort.OrtValue.ortvalue_from_shape_and_type(shape, _dtype(o), t.device, 0)
                        bound["binding"].bind_ortvalue_output(o.name, value)
                    else:
                        bound["binding"].bind_output(o.name, t.device, 0)
            return x

        def call(x: np.ndarray):
            if not resident:
                bound["x"].update_inplace(x)
            session.run_with_iobinding(bound["binding"], options)
            return bound["binding"].get_outputs() if resident else bound["binding"].copy_outputs_to_cpu()

        finish = (lambda outs: _host_outputs(o.numpy() for o in outs)) if resident else _host_outputs
        return Runner(call=call, prepare=prepare, finish=finish)

    return build


# ----------------------------------------------------------------------------- OpenVINO


def openvino(precision: str) -> Callable[[Target], Runner]:
    """The graph compiled by OpenVINO's CPU plugin, one infer request reused across calls."""

    def build(t: Target) -> Runner:
        import openvino as ov

        if t.device != "cpu":
            raise Unavailable("the OpenVINO backends run on the CPU plugin only")
        path = _graph(t, precision)
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32",
                  **({"INFERENCE_NUM_THREADS": t.threads} if t.threads else {})}
        try:
            compiled = ov.Core().compile_model(str(path), "CPU", config)
        except RuntimeError as e:
            raise Unavailable(f"OpenVINO cannot compile {path.name}: "
                              f"{str(e).strip().splitlines()[-1][:300]}") from e
        request = compiled.create_infer_request()

        def call(x):
            request.infer({0: x})
            return request

        return Runner(call=call, prepare=lambda x: np.ascontiguousarray(x, dtype=np.float32),
                      finish=lambda req: [np.array(req.get_tensor(o).data, dtype=np.float32)
                                          for o in compiled.outputs],
                      info={"graph": path.name, "openvino": ov.__version__})

    return build


# ----------------------------------------------------------------------------- runtime


def runtime(**cuda: bool) -> Callable[[Target], Runner]:
    """``vaekit.runtime.VAE`` on the target's device; ``cuda``: :class:`CudaOptions` fields."""

    def build(t: Target) -> Runner:
        from vaekit.runtime import VAE, CudaOptions

        on_cpu = t.device == "cpu"
        try:
            vae = VAE.load(t.model.export_dir, providers=t.device, max_batch=t.max_batch,
                           **({"threads": t.threads} if on_cpu else {"cuda": CudaOptions(**cuda)}))
        except (FileNotFoundError, ValueError) as e:
            raise Unavailable(f"vaekit.runtime cannot load {t.model.export_dir}: {e}") from e
        if not on_cpu and vae.providers[0] != CUDA:
            raise Unavailable(f"vaekit.runtime asked for CUDA, runs on {vae.providers}")
        if not on_cpu and cuda.get("cuda_graph") and not vae.cuda_graph:
            raise Unavailable("vaekit.runtime fell back from CUDA graphs (see its warning)")
        decoder = t.part == "decoder"
        return Runner(call=vae.decode if decoder else vae.encode, prepare=lambda x: x,
                      finish=lambda out: [out] if decoder else list(out), info={"providers": vae.providers})

    return build


# ----------------------------------------------------------------------------- PyTorch


def torch_module(t: Target):
    """The PyTorch encoder or decoder (mean image) of ``t.model`` on ``t.device``, loaded once."""
    import torch
    from vaekit.train import load_model

    if t.threads:
        torch.set_num_threads(t.threads)
    if t.key not in t.torch.modules:
        vae = load_model(t.model.checkpoint, device=torch.device(t.device))
        t.torch.modules[t.key] = vae.encoder if t.part == "encoder" else vae.decoder_mean().eval()
    return t.torch.modules[t.key]


def _compiled(t: Target):
    """``torch.compile`` of the module (compiling happens on its first call); raises
    :class:`Unavailable` once the budget is spent or when compiling it failed before."""
    import torch

    cache = t.torch
    if t.key in cache.failed:
        raise Unavailable(cache.failed[t.key])
    if t.key not in cache.compiled:
        if cache.spent_s > cache.budget_s:
            raise Unavailable(f"torch.compile budget of {cache.budget_s:.0f} s used up ({cache.spent_s:.0f} s "
                              f"spent compiling earlier modules on this machine)")
        cache.compiled[t.key] = torch.compile(torch_module(t))
    return cache.compiled[t.key]


def torch_backend(*, compiled: bool, resident: bool = False) -> Callable[[Target], Runner]:
    """The PyTorch module; on a GPU, ``resident`` keeps input and output on it (else host in/out)."""

    def build(t: Target) -> Runner:
        import torch

        module = _compiled(t) if compiled else torch_module(t)
        dev = torch.device(t.device)
        copies = dev.type == "cuda" and not resident  # on the CPU the host memory is the device's

        def call(x):
            with torch.inference_mode():
                out = module(torch.from_numpy(x).to(dev) if copies else x)
            outs = out if isinstance(out, tuple) else (out,)
            if copies:
                return [o.float().cpu() for o in outs]
            if dev.type == "cuda":
                torch.cuda.synchronize()
            return outs

        return Runner(call=call, prepare=(lambda x: x) if copies else (lambda x: torch.from_numpy(x).to(dev)),
                      finish=lambda outs: [o.detach().float().cpu().numpy() for o in outs],
                      compile_key=t.key if compiled else None)

    return build


def first_call(runner: Runner, prepared, cache: TorchCache | None = None):
    """Run once untimed (warm-up, compile); returns (output, seconds).

    For a torch.compile runner the seconds count against ``cache``'s budget, and a compile
    error is recorded there and raised as :class:`Unavailable`.
    """
    start = time.perf_counter()
    try:
        out = runner.call(prepared)
    except Exception as e:  # inductor/dynamo raise many error types (BackendCompilerFailed, ...)
        if cache is None or runner.compile_key is None:
            raise
        reason = f"torch.compile failed here: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
        cache.failed[runner.compile_key] = reason
        raise Unavailable(reason) from e
    seconds = time.perf_counter() - start
    if cache is not None and runner.compile_key is not None:
        cache.spent_s += seconds
    return out, seconds


# ----------------------------------------------------------------------------- the table

_BENCH, _GPU, _BOTH = ("bench",), ("gpu",), ("bench", "gpu")
_TORCH = ("torch",)

#: name -> backend, in the order the cases run and the report lists them
BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("ort-basic", ort_run("fp32", "basic"), _BENCH, column=2),
    Backend("ort-all", ort_run("fp32"), _BENCH, column=3),
    Backend("ort-int8", ort_run("int8"), _BENCH, precision="int8", column=4),
    Backend("ort-fp16", ort_run("fp16"), _BENCH, precision="fp16", column=5),
    Backend("ort-cuda", ort_run("fp32"), _BOTH, device="cuda"),
    Backend("runtime", runtime(), _BENCH, column=6),
    Backend("openvino", openvino("fp32"), _BENCH, needs=("openvino",), column=7),
    Backend("openvino-int8", openvino("int8"), _BENCH, needs=("openvino",), precision="int8", column=8),
    Backend("torch-eager", torch_backend(compiled=False), _BOTH, needs=_TORCH, column=0),
    Backend("torch-compile", torch_backend(compiled=True), _BOTH, needs=_TORCH, column=1),
    Backend("ort-cuda-iobinding", ort_bound("fp32", resident=False), _GPU, device="cuda"),
    Backend("ort-cuda-iobinding-device", ort_bound("fp32", resident=True), _GPU, device="cuda"),
    Backend("ort-cuda-graph", ort_bound("fp32", resident=False, cuda_graph=True), _GPU, device="cuda"),
    Backend("ort-cuda-graph-device", ort_bound("fp32", resident=True, cuda_graph=True), _GPU, device="cuda"),
    Backend("ort-cuda-fp16", ort_bound("fp16", resident=False), _GPU, device="cuda", precision="fp16"),
    Backend("ort-cuda-fp16-graph", ort_bound("fp16", resident=False, cuda_graph=True), _GPU, device="cuda",
            precision="fp16"),
    Backend("runtime-cuda", runtime(), _GPU, device="cuda"),
    Backend("runtime-cuda-graph", runtime(cuda_graph=True), _GPU, device="cuda"),
    Backend("runtime-cuda-tf32-off", runtime(tf32=False), _GPU, device="cuda"),
    Backend("torch-eager-device", torch_backend(compiled=False, resident=True), _GPU, device="cuda",
            needs=_TORCH),
    Backend("torch-compile-device", torch_backend(compiled=True, resident=True), _GPU, device="cuda",
            needs=_TORCH),
)}


def backend_names(harness: str) -> tuple[str, ...]:
    """The backends ``harness`` (``bench`` or ``gpu``) times, in table order."""
    return tuple(n for n, b in BACKENDS.items() if harness in b.harnesses)


def summary_columns() -> tuple[str, ...]:
    """The backends of the report's summary table, in column order."""
    return tuple(sorted((n for n, b in BACKENDS.items() if b.column is not None), key=lambda n: BACKENDS[n].column))


def make_runner(name: str, target: Target) -> Runner:
    """The runner of backend ``name`` for ``target``; raises :class:`Unavailable`."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    backend = BACKENDS[name]
    for package in backend.needs:
        if importlib.util.find_spec(package) is None:
            raise Unavailable(f"{package} is not installed (`pip install {package}`, or `make setup`)")
    return backend.build(target)
