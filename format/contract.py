"""The export contract: the facts ``vaekit.json`` and each graph's metadata carry.

Graphs (``N`` is a dynamic batch axis)::

    encoder   image float32 [N, C, H, W] in [0, 1] -> mean, logvar float32 [N, D]
    decoder   z float32 [N, D] -> image float32 [N, C, H, W] in [0, 1] (likelihood mean)

A conditional model (``num_classes > 0`` in ``vaekit.json``, which also lists
``class_names``) adds ``label int64 [N]`` in [0, num_classes) as the last input of both
graphs. ``vaekit.json["prior"]`` says what ``sample`` draws z from by default: a
:class:`~vaekit.format.prior.PriorRecord` (N(0, I), or a ``prior.onnx`` graph mapping noise to z).

Every graph also carries the :data:`CONTRACT_KEYS` as ONNX ``metadata_props`` (all values
as strings) plus ``graph`` and ``precision``, so a graph alone describes itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .names import GRAPHS

FORMAT = "vaekit-onnx"
FORMAT_VERSION = 1

#: facts stored both in vaekit.json (top level) and in each graph's metadata_props
CONTRACT_KEYS = (
    "channels", "height", "width", "latent_dim", "likelihood", "dataset",
    "checkpoint_sha256", "vaekit_version", "opset",
)

ENCODER_INPUTS = ("image",)
ENCODER_OUTPUTS = ("mean", "logvar")
DECODER_INPUTS = ("z",)
DECODER_OUTPUTS = ("image",)
GRAPH_NAMES = dict(zip(GRAPHS, ((ENCODER_INPUTS, ENCODER_OUTPUTS), (DECODER_INPUTS, DECODER_OUTPUTS))))
#: a conditional model's graphs take the class label, int64 [N] in [0, num_classes), last
LABEL_INPUT = "label"


def _get(facts: Mapping[str, Any] | object, key: str) -> Any:
    """``facts[key]`` of a contract dict, or the attribute of a typed :class:`Contract` (None if absent)."""
    return facts.get(key) if isinstance(facts, Mapping) else getattr(facts, key, None)


def num_classes(contract: Mapping[str, Any] | object) -> int:
    """Classes a conditional model's graphs take as ``label`` (0: an unconditional model)."""
    return int(_get(contract, "num_classes") or 0)


def graph_inputs(contract: Mapping[str, Any] | object, graph: str) -> tuple[str, ...]:
    """A graph's input names: ``("image",)`` / ``("z",)``, plus ``"label"`` when conditional."""
    if graph not in GRAPHS:
        raise ValueError(f"unknown graph {graph!r}; choose one of {GRAPHS}")
    base = GRAPH_NAMES[graph][0]
    return (*base, LABEL_INPUT) if num_classes(contract) else base


#: the latent size whose space is drawn as a plane (scatter, manifold sheet, 2-D explorer)
PLOTTABLE_LATENT_DIM = 2


def latent_is_plottable(latent_dim: int) -> bool:
    """Whether a model's latent space is drawn as a plane: one rule for export, figures, demo."""
    return int(latent_dim) == PLOTTABLE_LATENT_DIM


def image_shape(facts: Mapping[str, Any] | object) -> tuple[int, int, int]:
    """``(channels, height, width)`` of the images a model takes.

    ``facts`` is a contract (``vaekit.json`` or a graph's metadata: ``channels``, ``height``,
    ``width``, possibly as strings) or a model config, as a dict from ``config.json`` or the
    config object itself (``in_channels`` and ``image_size``, an int for square images or
    ``height``/``width``).
    """
    def get(key: str) -> Any:
        return _get(facts, key)

    channels = get("channels") if get("channels") is not None else get("in_channels")
    height, width = get("height"), get("width")
    if height is None and width is None and get("image_size") is not None:
        size = get("image_size")
        height, width = (size, size) if isinstance(size, (int, str)) else tuple(size)
    shape = (channels, height, width)
    if any(v is None for v in shape):
        raise ValueError(
            f"cannot tell the image shape from {facts!r}: a contract needs channels, height and "
            f"width; a model config needs in_channels and image_size"
        )
    try:
        c, h, w = (int(v) for v in shape)
    except (TypeError, ValueError) as e:
        raise ValueError(f"image shape {shape} is not three whole numbers") from e
    if min(c, h, w) < 1:
        raise ValueError(f"image shape {(c, h, w)} must be positive in every axis")
    return c, h, w


def graph_shapes(contract: Mapping[str, Any] | object, graph: str) -> dict[str, list[int | str]]:
    """Declared shapes of a graph's inputs and outputs (``"N"`` is the dynamic batch axis)."""
    if graph not in GRAPHS:
        raise ValueError(f"unknown graph {graph!r}; choose one of {GRAPHS}")
    c, h, w = image_shape(contract)
    d = int(_get(contract, "latent_dim"))
    image, z = ["N", c, h, w], ["N", d]
    label = {LABEL_INPUT: ["N"]} if num_classes(contract) else {}
    if graph == "encoder":
        return {"image": image, **label, "mean": z, "logvar": z}
    return {"z": z, **label, "image": image}


def metadata_props(contract: Mapping[str, Any] | object, *, graph: str, precision: str) -> dict[str, str]:
    """The string key/values written into a graph's ``metadata_props`` (of a contract dict or a
    typed :class:`~vaekit.format.contract_record.Contract`)."""
    props = {k: str(_get(contract, k)) for k in CONTRACT_KEYS}
    props.update(format=f"{FORMAT}/{FORMAT_VERSION}", graph=graph, precision=precision)
    if num_classes(contract):  # a conditional graph says so itself
        props.update(num_classes=str(num_classes(contract)), inputs=",".join(graph_inputs(contract, graph)))
    return props
