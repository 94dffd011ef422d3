"""File and folder names of a checkpoint folder and of an export folder.

A checkpoint folder (``python -m vaekit.train --out DIR``)::

    config.json        model, data and training configs
    model.safetensors  the model's weights (no pickle)
    metrics.json       training and evaluation results
    resume.pt          optional: optimiser, epoch, RNG state to resume training
    priors/NAME.safetensors  optional: a prior fitted ex post to the aggregate posterior
                       (``python -m vaekit.train.fit_prior``), its record in the metadata

An export folder (``python -m vaekit.export CHECKPOINT``, by default ``CHECKPOINT/onnx``)::

    encoder.onnx, decoder.onnx   the two graphs (contract: :mod:`vaekit.format.contract`)
    vaekit.json                  the contract, parity numbers, file sizes and sha256s
    examples.npz                 optional: real test images for demos and figures
                                 (images uint8 [N, C, H, W], labels int64 [N], classes str [K])
    *.fp16.onnx, *.int8.onnx     optional half-precision / quantised copies
    prior.onnx                   optional: the prior graph, noise -> z (:mod:`vaekit.format.prior`)
    decoder.fast.onnx            optional: a small distilled decoder (same contract as decoder.onnx)

A distilled fast decoder (``python -m vaekit.train.distill CHECKPOINT``) lives in
``CHECKPOINT/student/``: ``config.json``, ``model.safetensors``, ``metrics.json``, ``resume.pt``.
"""

from __future__ import annotations

# checkpoint folder
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
METRICS = "metrics.json"
RESUME = "resume.pt"
PRIORS_SUBFOLDER = "priors"  # fitted priors: priors/NAME.safetensors

# export folder
ONNX_SUBFOLDER = "onnx"  # where `python -m vaekit.export CHECKPOINT` puts graphs by default
CONTRACT_FILE = "vaekit.json"
EXAMPLES_FILE = "examples.npz"
PRIOR_FILE = "prior.onnx"  # the prior graph: eps [N, D], u [N] -> z [N, D]
GRAPHS = ("encoder", "decoder")
PRECISIONS = ("fp32", "fp16", "int8")
GRAPH_SUFFIX = ".onnx"
STUDENT_SUBFOLDER = "student"  # a distilled fast decoder, inside its teacher's checkpoint folder
#: the decoders an export can hold: the model's own ("full") and a distilled student ("fast")
DECODER_KINDS = ("full", "fast")
#: the largest |z| a decoder is fed by any client (the prior is N(0, I), so a typical |z| is
#: below 5; far larger values overflow float32 inside the decoder and come back as NaN images)
MAX_ABS_LATENT = 1e4


def graph_file(graph: str, precision: str = "fp32") -> str:
    """``encoder.onnx``, ``decoder.fp16.onnx``, ``encoder.int8.onnx``, ..."""
    if graph not in GRAPHS:
        raise ValueError(f"unknown graph {graph!r}; choose one of {GRAPHS}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    tag = "" if precision == "fp32" else f".{precision}"
    return f"{graph}{tag}{GRAPH_SUFFIX}"


def graph_files(precision: str = "fp32") -> tuple[str, ...]:
    """The file names of both graphs at ``precision``: ``("encoder.onnx", "decoder.onnx")``."""
    return tuple(graph_file(g, precision) for g in GRAPHS)


def fast_decoder_file(precision: str = "fp32") -> str:
    """``decoder.fast.onnx``, ``decoder.fast.fp16.onnx``, ``decoder.fast.int8.onnx``."""
    return graph_file("decoder", precision).replace("decoder", "decoder.fast", 1)
