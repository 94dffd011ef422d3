"""Ex-post samplers (numpy): what they fit, how their state maps noise to z, and their options."""

import numpy as np
import pytest
from vaekit.train.samplers import (
    SAMPLERS,
    GMMOptions,
    GMMSampler,
    MixtureState,
    build_sampler,
)


def two_clusters(n=2000, seed=0):
    """Latents from two well-separated, differently shaped Gaussians (weights 0.3 / 0.7)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((int(0.3 * n), 2)) @ np.array([[0.5, 0.0], [0.4, 0.2]]) + [-4.0, 1.0]
    b = rng.standard_normal((n - len(a), 2)) @ np.array([[0.3, 0.0], [0.0, 1.0]]) + [3.0, -2.0]
    return np.concatenate([a, b]).astype(np.float32)


def test_the_registry_offers_a_gaussian_and_a_mixture():
    assert {"gaussian", "gmm"} <= set(SAMPLERS)


def test_a_gaussian_fit_recovers_the_mean_and_covariance():
    rng = np.random.default_rng(1)
    cov = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 0.01]])  # strongly correlated
    x = rng.multivariate_normal([1.0, -2.0, 0.5], cov, size=20000)
    state, _ = build_sampler("gaussian", {}).fit(x, np.random.default_rng(0))
    assert state.components == 1 and state.covariance == "full"
    np.testing.assert_allclose(state.means[0], [1.0, -2.0, 0.5], atol=0.03)
    np.testing.assert_allclose(state.scales[0] @ state.scales[0].T, cov, atol=0.03)
    # its draws have that covariance too
    z = state.transform(rng.standard_normal((20000, 3)), rng.random(20000))
    np.testing.assert_allclose(np.cov(z.T), cov, atol=0.05)


def test_a_mixture_finds_both_clusters_and_their_weights():
    x = two_clusters()
    state, facts = GMMSampler(GMMOptions(components=2)).fit(x, np.random.default_rng(0))
    order = np.argsort(state.means[:, 0])
    np.testing.assert_allclose(state.means[order], [[-4.0, 1.0], [3.0, -2.0]], atol=0.1)
    np.testing.assert_allclose(state.weights[order], [0.3, 0.7], atol=0.02)
    assert facts["converged"]
    # it explains the data better than one Gaussian does
    one, _ = build_sampler("gaussian", {}).fit(x, np.random.default_rng(0))
    assert state.log_density(x).mean() > one.log_density(x).mean() + 0.5


def test_u_picks_the_component_by_cumulative_weight_and_eps_scales_it():
    state = MixtureState(np.array([0.25, 0.75], np.float32), np.array([[0.0, 0.0], [10.0, 10.0]], np.float32),
                         np.stack([np.eye(2), 2 * np.eye(2)]).astype(np.float32))
    u = np.array([0.0, 0.2, 0.25, 0.9], np.float32)
    np.testing.assert_array_equal(state.transform(np.zeros((4, 2)), u), [[0, 0], [0, 0], [10, 10], [10, 10]])
    np.testing.assert_array_equal(state.transform(np.ones((4, 2)), u), [[1, 1], [1, 1], [12, 12], [12, 12]])


def test_the_same_seed_fits_the_same_state():
    x = two_clusters(seed=3)
    a, _ = GMMSampler(GMMOptions(components=4)).fit(x, np.random.default_rng(7))
    b, _ = GMMSampler(GMMOptions(components=4)).fit(x, np.random.default_rng(7))
    for name, t in a.tensors().items():
        np.testing.assert_array_equal(t, b.tensors()[name])


@pytest.mark.parametrize("given,message", [
    ({"components": 0}, r"--components must be a whole number in \[1, 256\], got 0"),
    ({"components": 2.5}, r"--components must be a whole number"),
    ({"reg_covar": float("nan")}, r"--reg-covar must be in \[0, 1\], got nan"),
    ({"tol": -1.0}, r"--tol must be in"),
])
def test_bad_options_are_refused_naming_the_flag(given, message):
    with pytest.raises(ValueError, match=message):
        build_sampler("gmm", given)


def test_an_option_the_sampler_does_not_take_is_refused():
    with pytest.raises(ValueError, match="--sampler gaussian takes no --components"):
        build_sampler("gaussian", {"components": 3})


def test_too_few_latents_for_the_components_are_refused():
    with pytest.raises(ValueError, match="too few for 10 components: use fewer --components"):
        build_sampler("gmm", {}).fit(np.zeros((12, 2)), np.random.default_rng(0))


def test_a_state_with_nan_is_refused_with_the_fix():
    state = MixtureState(np.ones(1, np.float32), np.full((1, 2), np.nan, np.float32), np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match="NaN or inf values; refit"):
        state.check(2, fix="refit")
    with pytest.raises(ValueError, match="latents of size 2, the model's are 3"):
        MixtureState(np.ones(1, np.float32), np.zeros((1, 2), np.float32), np.ones((1, 2), np.float32)).check(3, fix="x")
