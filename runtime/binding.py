"""Running one graph: plain ``session.run``, I/O binding, or a replayed CUDA graph.

:class:`GraphRunner` takes numpy arrays or ``onnxruntime.OrtValue`` s (for instance outputs
of a previous call that stayed on the GPU) and returns numpy arrays or OrtValues:

- ``io_binding=False`` (the CPU default): ``session.run`` with numpy, the fastest on CPU.
- ``io_binding=True`` (the CUDA default): inputs bound where they are (numpy is copied to
  the device once; an OrtValue on the device is used in place), outputs allocated on the
  session's device; ``output="numpy"`` copies them to the host once, ``"ortvalue"`` leaves
  them there.
- ``cuda_graph=True`` (needs a session built with ``enable_cuda_graph``): per batch size,
  fixed input/output buffers on the device and a CUDA graph captured on first use under its
  own ``gpu_graph_id``, replayed afterwards; at most :data:`MAX_CUDA_GRAPHS` sizes are
  captured, other sizes (and device-resident inputs) run uncaptured (``gpu_graph_id`` -1).
  With ``output="ortvalue"`` the returned OrtValues are those fixed buffers: the next call
  with the same batch size overwrites them.

The fixed-buffer path also runs on the CPU (``static_buffers=True``), which is how the tests
check it without a GPU.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import onnxruntime as ort

from .providers import warn_once

OUTPUTS = ("numpy", "ortvalue")
MAX_CUDA_GRAPHS = 4
CAPTURE_RUNS = 3  # onnxruntime warms up, then captures, within a graph id's first runs
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64,
           "tensor(int32)": np.int32, "tensor(bool)": np.bool_}

Feed = np.ndarray | ort.OrtValue


def check_output(output: str) -> None:
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS} ('ortvalue' keeps the result on the "
                         f"session's device), got {output!r}")


def _all_host(feeds: Mapping[str, Feed]) -> bool:
    """Whether every feed is a numpy array (a plain loop: this runs on every call)."""
    for value in feeds.values():
        if not isinstance(value, np.ndarray):
            return False
    return True


class _Slot:
    """Fixed input and output buffers for one set of input shapes, bound once."""

    def __init__(self, runner: GraphRunner, shapes: dict[str, tuple[int, ...]], graph_id: int | None):
        s = runner.session
        dev, dev_id = runner.device, runner.device_id
        batch = next(iter(shapes.values()))[0]
        self.dtypes = {i.name: _DTYPES[i.type] for i in s.get_inputs()}
        self.inputs = {
            name: ort.OrtValue.ortvalue_from_shape_and_type(shapes[name], dtype, dev, dev_id)
            for name, dtype in self.dtypes.items()
        }
        self.outputs = [
            ort.OrtValue.ortvalue_from_shape_and_type(
                [d if isinstance(d, int) else batch for d in o.shape], _DTYPES[o.type], dev, dev_id)
            for o in s.get_outputs()
        ]
        self.binding = s.io_binding()
        for name, value in self.inputs.items():
            self.binding.bind_ortvalue_input(name, value)
        for o, value in zip(s.get_outputs(), self.outputs, strict=True):
            self.binding.bind_ortvalue_output(o.name, value)
        self.runs = 0
        self.run_options = ort.RunOptions()
        if graph_id is not None:
            self.run_options.add_run_config_entry("gpu_graph_id", str(graph_id))


class GraphRunner:
    """One graph's session plus how to feed it (see the module docstring)."""

    def __init__(
        self, session: ort.InferenceSession, *, device: str = "cpu", device_id: int = 0,
        io_binding: bool = False, cuda_graph: bool = False, static_buffers: bool = False,
    ):
        self.session = session
        self.device, self.device_id = device, device_id
        self.cuda_graph = cuda_graph
        self.static_buffers = static_buffers or cuda_graph
        self.io_binding = io_binding or self.static_buffers
        self.input_names = [i.name for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]
        self._slots: dict[tuple, _Slot] = {}
        self._next_graph_id = 1  # 0 is onnxruntime's own
        # fixed buffers are shared state; a CUDA graph capture must not see other work on its stream
        self._lock = threading.RLock()
        self._uncaptured = ort.RunOptions()
        if cuda_graph:
            self._uncaptured.add_run_config_entry("gpu_graph_id", "-1")

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def run(self, feeds: Mapping[str, Feed], *, output: str = "numpy") -> list[Any]:
        """Run the graph on ``feeds`` (name -> numpy array or OrtValue)."""
        check_output(output)
        host = _all_host(feeds)
        if host and not self.io_binding:  # the CPU default: the caller's arrays go to ORT as they are
            outs = self.session.run(self.output_names, feeds if type(feeds) is dict else dict(feeds))
            return outs if output == "numpy" else [ort.OrtValue.ortvalue_from_numpy(o) for o in outs]
        if self.static_buffers and host:
            key = tuple((k, v.shape) for k, v in feeds.items())
            if key in self._slots or len(self._slots) < MAX_CUDA_GRAPHS:
                return self._run_slot(key, feeds, output)
        if self.io_binding:
            if self.cuda_graph:
                with self._lock:
                    return self._run_bound(feeds, output)
            return self._run_bound(feeds, output)
        values = {k: v if isinstance(v, ort.OrtValue) else ort.OrtValue.ortvalue_from_numpy(v)
                  for k, v in feeds.items()}
        outs = self.session.run_with_ort_values(None, values)
        return list(outs) if output == "ortvalue" else [o.numpy() for o in outs]

    def _run_bound(self, feeds: Mapping[str, Feed], output: str) -> list[Any]:
        binding = self.session.io_binding()
        for name, value in feeds.items():
            if isinstance(value, ort.OrtValue):
                binding.bind_ortvalue_input(name, value)
            else:
                binding.bind_cpu_input(name, value)
        for name in self.output_names:
            binding.bind_output(name, self.device, self.device_id)
        self.session.run_with_iobinding(binding, self._uncaptured)
        return binding.copy_outputs_to_cpu() if output == "numpy" else list(binding.get_outputs())

    def _run_slot(self, key: tuple, feeds: Mapping[str, np.ndarray], output: str) -> list[Any]:
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                graph_id = None
                if self.cuda_graph:
                    graph_id, self._next_graph_id = self._next_graph_id, self._next_graph_id + 1
                slot = self._slots[key] = _Slot(self, dict(key), graph_id)
            for name, value in feeds.items():
                slot.inputs[name].update_inplace(np.ascontiguousarray(value, dtype=slot.dtypes[name]))
            try:
                self.session.run_with_iobinding(slot.binding, slot.run_options)
            except Exception as e:  # noqa: BLE001 - onnxruntime's pybind errors (capture failed)
                if slot.runs >= CAPTURE_RUNS:
                    raise
                # a warm-up or capturing run failed: run this graph without fixed buffers from now on
                what = "CUDA graph capture" if self.cuda_graph else "fixed buffers"
                self._slots.clear()
                self.static_buffers = self.cuda_graph = False
                warn_once(f"vaekit.runtime: {what} failed on {self.providers[0]} ({type(e).__name__}: "
                          f"{str(e)[:200]}); running without")
                return self._run_bound(feeds, output)
            slot.runs += 1
            if output == "numpy":
                return [np.array(a, copy=True) for a in slot.binding.copy_outputs_to_cpu()] \
                    if self.device == "cpu" else slot.binding.copy_outputs_to_cpu()
            return list(slot.outputs)


__all__ = ["MAX_CUDA_GRAPHS", "OUTPUTS", "GraphRunner", "check_output"]
