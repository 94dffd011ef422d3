"""vaekit.format: the on-disk vocabulary every vaekit package shares (no torch, no numpy).

* :mod:`~vaekit.format.names` - file and folder names of a checkpoint folder
  (``config.json``, ``model.safetensors``, ...) and of an export folder (``onnx/``,
  ``vaekit.json``, ``encoder.onnx``, ...), and :func:`graph_file`.
* :mod:`~vaekit.format.contract` - the export contract: its format tag and version, the keys
  of ``vaekit.json``, the graphs' input/output names and shapes, :func:`image_shape` (of a
  model config or a contract) and :func:`latent_is_plottable` (drawn as a plane or not).
* :mod:`~vaekit.format.contract_record` - :class:`Contract`: ``vaekit.json`` as one typed
  record (load, validate, save) with its sub-records (:mod:`~vaekit.format.graph_record`:
  graphs, precision variants, the fast decoder; :class:`Classes`; :class:`ExamplesRecord`),
  and :mod:`~vaekit.format.schema`, its JSON Schema for the JavaScript clients.
* :mod:`~vaekit.format.framing` - :class:`Framing` and :data:`BACKGROUNDS`: how the pictures
  look (``vaekit.json["framing"]``, ``["background"]``).
* :mod:`~vaekit.format.files` - :func:`sha256_file`, atomic writes and :func:`read_json_object`.
* :mod:`~vaekit.format.prior` - :class:`PriorRecord` (``vaekit.json["prior"]``) and the
  ``prior.onnx`` graph's names: what ``sample`` draws z from.

The data flows train -> checkpoint -> export -> ONNX -> runtime -> demo/benchmarks; each step
names the files it reads or writes through this package, so a file name is spelled once.
"""

from .contract import (
    CONTRACT_KEYS,
    DECODER_INPUTS,
    DECODER_OUTPUTS,
    ENCODER_INPUTS,
    ENCODER_OUTPUTS,
    FORMAT,
    FORMAT_VERSION,
    GRAPH_NAMES,
    LABEL_INPUT,
    PLOTTABLE_LATENT_DIM,
    graph_inputs,
    graph_shapes,
    image_shape,
    latent_is_plottable,
    metadata_props,
    num_classes,
)
from .contract_record import Classes, Contract, ExamplesRecord
from .files import atomic_write_bytes, atomic_write_text, read_json_object, sha256_file
from .framing import BACKGROUNDS, CENTRES, FRAMING_KEYS, FRAMING_METHODS, Framing, check_background
from .graph_record import (
    FastDecoderRecord,
    FastVariantRecord,
    GraphRecord,
    KernelPath,
    VariantRecord,
)
from .names import (
    CONFIG,
    CONTRACT_FILE,
    DECODER_KINDS,
    EXAMPLES_FILE,
    GRAPHS,
    MAX_ABS_LATENT,
    METRICS,
    ONNX_SUBFOLDER,
    PRECISIONS,
    PRIOR_FILE,
    PRIORS_SUBFOLDER,
    RESUME,
    STUDENT_SUBFOLDER,
    WEIGHTS,
    fast_decoder_file,
    graph_file,
    graph_files,
)
from .prior import NORMAL, PRIOR_INPUTS, PRIOR_OUTPUTS, PRIOR_SOURCES, PriorRecord

__all__ = [
    "BACKGROUNDS", "CENTRES", "Classes", "Contract", "ExamplesRecord", "FRAMING_KEYS", "FRAMING_METHODS",
    "FastDecoderRecord", "FastVariantRecord", "Framing", "GraphRecord", "KernelPath", "VariantRecord",
    "check_background",
    "CONFIG", "CONTRACT_FILE", "CONTRACT_KEYS", "DECODER_KINDS", "DECODER_INPUTS", "DECODER_OUTPUTS",
    "ENCODER_INPUTS", "ENCODER_OUTPUTS", "EXAMPLES_FILE", "FORMAT", "FORMAT_VERSION", "GRAPHS",
    "MAX_ABS_LATENT",
    "GRAPH_NAMES", "LABEL_INPUT", "METRICS", "NORMAL", "ONNX_SUBFOLDER", "PLOTTABLE_LATENT_DIM",
    "PRECISIONS", "PRIOR_FILE", "PRIOR_INPUTS", "PRIOR_OUTPUTS",
    "PRIOR_SOURCES", "PRIORS_SUBFOLDER", "PriorRecord", "RESUME", "STUDENT_SUBFOLDER", "WEIGHTS",
    "atomic_write_bytes", "atomic_write_text", "fast_decoder_file", "graph_file", "graph_files",
    "graph_inputs", "graph_shapes",
    "image_shape", "latent_is_plottable", "metadata_props", "num_classes", "read_json_object", "sha256_file",
]
