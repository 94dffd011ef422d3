"""The prior graph (``prior.onnx``): noise -> z for any mixture of Gaussians, and which prior
an export ships.

    eps float32 [N, D] (N(0, I) draws times the temperature), u float32 [N] (U[0, 1) draws)
      -> z float32 [N, D]

``u`` picks component ``k`` (the number of cumulative weights <= u); ``z = means[k] +
scales[k] @ eps``. All K products come from one matrix product ``eps @ [L_1^T ... L_K^T]``
and a one-hot selection, so a batch never materialises N copies of a [D, D] factor. A
diagonal mixture (a VampPrior) multiplies instead. Built with ``onnx.helper`` (no torch), at
the opset of the other graphs, and checked like them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from vaekit.format import FORMAT, FORMAT_VERSION, PRIOR_FILE, sha256_file
from vaekit.format.prior import NORMAL, PRIOR_INPUTS, PRIOR_OUTPUTS, PriorRecord
from vaekit.train.prior_file import fitted_prior_names, load_fitted_prior, refit_hint
from vaekit.train.samplers import SAMPLERS, MixtureState

from .graphs import OPSET, finish_graph

#: ``--prior`` of the export: choose automatically, or name one
AUTO = "auto"
#: ``--prior`` for the model's own learned prior, whatever its variant calls it
LEARNED = "learned"
#: max |graph - numpy| of z on the check batch (float32 products of the same factors)
PRIOR_TOLERANCE = 1e-4


def prior_choices() -> tuple[str, ...]:
    """What ``python -m vaekit.export --prior`` accepts: derived from the sampler and model
    registries (each variant with a learned prior answers to its name, e.g. ``vamp``)."""
    return (AUTO, NORMAL, LEARNED, *learned_prior_names(), *SAMPLERS)


def learned_prior_names() -> tuple[str, ...]:
    """The names the registered variants' learned priors ship under."""
    from vaekit.train.registry import MODELS

    return tuple(sorted({cls.learned_prior for cls in MODELS.values() if cls.learned_prior}))


def choose_prior(checkpoint: str | os.PathLike, model: Any, wanted: str = AUTO
                 ) -> tuple[str, MixtureState | None, str | None, dict[str, Any]]:
    """``(name, state, source, fitted_on)`` of the prior an export ships (state None: N(0, I)).

    ``auto``: the model's learned prior when it has one, else the fitted prior in
    ``CHECKPOINT/priors/`` with the best validation log-density (fits of older weights are
    skipped with a note), else N(0, I). A prior named explicitly must exist and be current.
    """
    if wanted not in prior_choices():
        raise ValueError(f"unknown --prior {wanted!r}; choose one of {prior_choices()}")
    d = int(model.config.latent_dim)
    if wanted == NORMAL:
        return NORMAL, None, None, {}
    learned = _learned(model)
    own = getattr(model, "learned_prior", None)
    if wanted in (LEARNED, *learned_prior_names()) or (wanted == AUTO and learned is not None):
        if learned is None:
            raise ValueError(f"--prior {wanted}: {checkpoint} has no learned prior (a "
                             f"{type(model).__name__} samples N(0, I)); fit one with "
                             f"`python -m vaekit.train.fit_prior {checkpoint}`")
        if wanted not in (AUTO, LEARNED, own):
            raise ValueError(f"--prior {wanted}: the learned prior of {checkpoint} is {own!r}; "
                             f"pass --prior {own} (or --prior {LEARNED})")
        return own, learned.check(d, fix="retrain the model"), "learned", {}
    if wanted != AUTO:
        fitted = load_fitted_prior(checkpoint, wanted, latent_dim=d)
        return wanted, fitted.state, "fitted", _fitted_on(fitted.record)
    candidates = []
    for name in fitted_prior_names(checkpoint):
        try:
            fitted = load_fitted_prior(checkpoint, name, latent_dim=d)
        except ValueError as e:
            print(f"note: prior {name!r} not shipped: {e}")
            continue
        score = fitted.record.get("mean_log_density", {}).get("valid", -np.inf)
        candidates.append((score, name, fitted))
    if not candidates:
        return NORMAL, None, None, {}
    _, name, fitted = max(candidates, key=lambda c: c[0])
    return name, fitted.state, "fitted", _fitted_on(fitted.record)


def _learned(model: Any) -> MixtureState | None:
    import torch

    with torch.no_grad():
        components = model.eval().prior_components()
    if components is None:
        return None
    means, logvars = (t.float().numpy() for t in components)
    return MixtureState.of_diagonal(means, logvars)


def _fitted_on(record: dict[str, Any]) -> dict[str, Any]:
    """What the shipped prior was fitted on (split, count, checkpoint sha256) and how (sampler,
    options, seed), with its held-out log-density."""
    keep = ("sampler", "options", "seed", "mean_log_density")
    return {**record.get("fitted_on", {}), **{k: record[k] for k in keep if k in record}}


def write_prior(folder: Path, checkpoint: str | os.PathLike, model: Any, contract: dict[str, Any],
                wanted: str = AUTO) -> PriorRecord:
    """Write ``folder/prior.onnx`` for the chosen prior (nothing for N(0, I)); returns its record."""
    name, state, source, fitted_on = choose_prior(checkpoint, model, wanted)
    if state is None:
        return PriorRecord()
    path = folder / PRIOR_FILE
    props = {"format": f"{FORMAT}/{FORMAT_VERSION}", "graph": "prior", "prior": name,
             "latent_dim": str(state.latent_dim), "components": str(state.components),
             "checkpoint_sha256": str(contract["checkpoint_sha256"])}
    doc = (f"vaekit prior {name!r} ({state.components} x {state.covariance} Gaussian) for "
           f"{contract['dataset']}: eps float32 [N, {state.latent_dim}], u float32 [N] -> z float32 "
           f"[N, {state.latent_dim}]")
    finish_graph(prior_model(state), path, props=props, doc=doc)
    _check_against_numpy(path, state, checkpoint, name)
    return PriorRecord(name=name, file=PRIOR_FILE, sha256=sha256_file(path), bytes=path.stat().st_size,
                       latent_dim=state.latent_dim, components=state.components,
                       covariance=state.covariance, source=source, fitted_on=fitted_on)


def prior_model(state: MixtureState) -> onnx.ModelProto:
    """The ONNX model mapping ``(eps, u)`` to ``z`` for ``state`` (see the module doc)."""
    k, d = state.components, state.latent_dim
    inits = [numpy_helper.from_array(state.means.astype(np.float32), "means"),
             numpy_helper.from_array(np.arange(k, dtype=np.int64), "component_ids"),
             numpy_helper.from_array(np.array([1], np.int64), "axis1")]
    nodes = [helper.make_node("Unsqueeze", ["u", "axis1"], ["u_col"])]  # [N, 1]
    if k > 1:
        inits.append(numpy_helper.from_array(state.cdf(), "cdf"))
        nodes += [helper.make_node("LessOrEqual", ["cdf", "u_col"], ["below"]),  # [N, K - 1]
                  helper.make_node("Cast", ["below"], ["below_int"], to=TensorProto.INT64),
                  helper.make_node("ReduceSum", ["below_int", "axis1"], ["k_col"], keepdims=1)]  # [N, 1]
    else:  # one component: k = 0 for every row (u is still an input, as for every prior)
        inits.append(numpy_helper.from_array(np.array(0, np.float32), "zero"))
        nodes += [helper.make_node("Mul", ["u_col", "zero"], ["zeros"]),
                  helper.make_node("Cast", ["zeros"], ["k_col"], to=TensorProto.INT64)]
    nodes += [helper.make_node("Equal", ["k_col", "component_ids"], ["picked"]),  # [N, K]
              helper.make_node("Cast", ["picked"], ["onehot"], to=TensorProto.FLOAT),
              helper.make_node("MatMul", ["onehot", "means"], ["mean"])]  # [N, D]
    if state.covariance == "diag":
        inits.append(numpy_helper.from_array(state.scales.astype(np.float32), "stds"))
        nodes += [helper.make_node("MatMul", ["onehot", "stds"], ["std"]),
                  helper.make_node("Mul", ["std", "eps"], ["offset"])]
    else:
        # [D, K * D]: column block j is L_j^T, so eps @ it holds L_j eps for every j
        stacked = np.concatenate([s.T for s in state.scales], axis=1).astype(np.float32)
        inits += [numpy_helper.from_array(stacked, "scales_t"),
                  numpy_helper.from_array(np.array([-1, k, d], np.int64), "nkd"),
                  numpy_helper.from_array(np.array([2], np.int64), "axis2")]
        nodes += [helper.make_node("MatMul", ["eps", "scales_t"], ["all_flat"]),  # [N, K * D]
                  helper.make_node("Reshape", ["all_flat", "nkd"], ["all"]),  # [N, K, D]
                  helper.make_node("Unsqueeze", ["onehot", "axis2"], ["onehot3"]),  # [N, K, 1]
                  helper.make_node("Mul", ["all", "onehot3"], ["masked"]),
                  helper.make_node("ReduceSum", ["masked", "axis1"], ["offset"], keepdims=0)]  # [N, D]
    nodes.append(helper.make_node("Add", ["mean", "offset"], ["z"]))
    eps, u = PRIOR_INPUTS
    graph = helper.make_graph(
        nodes, "vaekit_prior",
        [helper.make_tensor_value_info(eps, TensorProto.FLOAT, ["N", d]),
         helper.make_tensor_value_info(u, TensorProto.FLOAT, ["N"])],
        [helper.make_tensor_value_info(PRIOR_OUTPUTS[0], TensorProto.FLOAT, ["N", d])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vaekit",
                             ir_version=8)  # the lowest IR of opset 18: every client of the other graphs loads it


def _check_against_numpy(path: Path, state: MixtureState, checkpoint: str | os.PathLike, name: str) -> None:
    """The written graph gives the numpy mixture's z for a seeded batch (every component hit)."""
    from vaekit.runtime.session import build_session

    rng = np.random.default_rng(0)
    n = max(64, 4 * state.components)
    eps = rng.standard_normal((n, state.latent_dim), dtype=np.float32)
    u = ((np.arange(n) + 0.5) / n).astype(np.float32)
    got = build_session(path).run(None, {"eps": eps, "u": u})[0]
    diff = float(np.abs(got - state.transform(eps, u)).max()) if np.isfinite(got).all() else np.inf
    if not diff <= PRIOR_TOLERANCE * max(1.0, float(np.abs(state.means).max())):
        raise ValueError(f"the prior graph for {name!r} differs from its fitted state by {diff:.3g}; "
                         f"nothing was written; {refit_hint(checkpoint, name)}")
