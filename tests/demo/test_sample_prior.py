"""The Sample tab's prior menu: the export's prior by default, N(0, I) on request."""

from __future__ import annotations

import numpy as np
import pytest
from vaekit.demo import tab_sample
from vaekit.demo.handlers import DEFAULT_PRIOR, Handlers
from vaekit.demo.models import wrap_models
from vaekit.runtime import VAE

pytestmark = pytest.mark.slow  # exports a tiny model per prior kind


@pytest.fixture(scope="module")
def handlers(priors_exported):
    models = {kind: VAE.load(folder, providers="cpu") for kind, folder in priors_exported.items()}
    return Handlers(wrap_models(models)), models


def test_the_menu_lists_each_models_priors_with_the_shipped_one_as_default(handlers):
    h, _ = handlers
    gmm = tab_sample.view(h.model("gmm"), None)["prior"]
    assert gmm["value"] == DEFAULT_PRIOR
    assert [v for _, v in gmm["choices"]] == [DEFAULT_PRIOR, "normal", "gmm"]
    assert gmm["choices"][0][0] == "default: gmm"
    assert [v for _, v in tab_sample.view(h.model("normal"), None)["prior"]["choices"]] == [DEFAULT_PRIOR, "normal"]


@pytest.mark.parametrize("kind", ["gaussian", "gmm", "vamp"])
def test_sampling_uses_the_chosen_prior(handlers, kind):
    h, models = handlers
    default = h.sample(kind, 3, 4, 1.0)
    assert f"prior {kind}" in default.details
    assert np.array_equal(default.image, h.sample(kind, 3, 4, 1.0, prior=kind).image)
    normal = h.sample(kind, 3, 4, 1.0, prior="normal")
    assert "prior normal" in normal.details and not np.array_equal(default.image, normal.image)


def test_a_prior_the_model_lacks_is_refused_with_its_choices(handlers):
    h, _ = handlers
    with pytest.raises(ValueError, match="prior 'gmm': normal samples from normal"):
        h.sample("normal", 0, 4, 1.0, prior="gmm")
