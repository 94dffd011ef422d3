"""VAE variants beyond the plain VAE and beta-VAE: each one class.

* :class:`IWAE` (Burda et al. 2016): trains on the k-sample importance-weighted bound.
* :class:`CVAE`: encoder and decoder conditioned on a class label.
* :class:`VampPrior` (Tomczak & Welling 2018): a prior learned as the mixture of the
  posteriors of learned pseudo-inputs.
* :class:`MoGPrior`: a prior learned as a mixture of Gaussians with free means and variances
  (the same paper's MoG baseline).

A variant overrides the seams of :class:`~vaekit.train.model.VAE` (``encode``, ``decode``,
``log_prior``, ``kl``, ``forward``) and nothing else; its config lives in
:mod:`vaekit.train.config`, and :mod:`vaekit.train.registry` lists it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .config import CVAEConfig, IWAEConfig, MoGConfig, VampConfig
from .model import VAE, Decoder, Encoder
from .objective import gaussian_log_prob, log_mean_exp


class IWAE(VAE):
    """Trained on the ``k``-sample importance-weighted bound (k=1 is the VAE's ELBO).

    Terms (nats per dimension): ``loss`` = -IWAE bound (with the KL warm-up factor scaling
    ``log p(z) - log q(z|x)`` in each weight), ``iwae`` (the bound, unwarmed), ``elbo`` (mean
    single-sample ELBO of the same k samples), ``recon`` and ``kl`` (their sample means).
    """

    config_class = IWAEConfig

    def forward(self, x: Tensor, y: Tensor | None = None, *, kl_scale: float = 1.0
                ) -> dict[str, Tensor]:
        log_px, log_ratio = self.sample_weights(x, y, self.config.k)  # [k, N] each
        dims = self.data_dims
        bound = log_mean_exp(log_px + log_ratio, dim=0).mean() / dims
        warmed = log_mean_exp(log_px + self.kl_weight(kl_scale) * log_ratio, dim=0).mean() / dims
        recon, kl = -log_px.mean() / dims, -log_ratio.mean() / dims
        return {"loss": -warmed, "iwae": bound, "elbo": -(recon + kl), "recon": recon, "kl": kl}


class CVAE(VAE):
    """Conditional VAE: q(z | x, y) and p(x | z, y) with y one of ``num_classes`` labels.

    The encoder adds a learned per-class vector to its first feature map; the decoder adds
    one to its input projection (the one-hot label concatenated to ``z``). The prior is
    N(0, I) for every class, so ``sample`` takes a class and draws z as usual.
    """

    config_class = CVAEConfig
    conditional = True

    def __init__(self, config: CVAEConfig):
        super().__init__(config)
        self.encoder = Encoder(config, num_classes=config.num_classes)
        self.decoder = Decoder(config, self.likelihood, num_classes=config.num_classes)
        self._device_labels_checked = False

    def check_labels(self, y: Tensor | None, classes: Sequence[str] = ()) -> None:
        """Labels must be integers in ``[0, num_classes)``; ``classes`` (the dataset's) must
        number ``num_classes``. Reads ``y`` back from the device: call it once per dataset,
        not per training step."""
        n = self.config.num_classes
        if classes and len(classes) != n:
            raise ValueError(
                f"the data has {len(classes)} classes but the model has num_classes={n}: "
                f"pass --num-classes {len(classes)}")
        if y is None:
            raise ValueError(f"{type(self).__name__} is conditional: pass the class labels "
                             f"(int64, in [0, {n})) with the images")
        if y.dtype.is_floating_point or y.dtype == torch.bool or y.dtype.is_complex:
            raise ValueError(f"class labels must be integers in [0, {n}), got dtype {y.dtype}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n):
            low, high = int(y.min()), int(y.max())
            if low == -1:
                raise ValueError(f"{type(self).__name__} needs class labels, but the data has "
                                 f"none (label -1): train it on a labelled dataset")
            raise ValueError(f"class labels must be in [0, {n}) (num_classes={n}), got labels "
                             f"from {low} to {high}")

    def _labels(self, x: Tensor, y: Tensor | None) -> Tensor:
        # labels on the CPU are checked every call; on a device, the first batch is (one read-back
        # per model: the loop and evaluate check the whole dataset up front with check_labels)
        if y is None or y.device.type == "cpu" or not self._device_labels_checked:
            self.check_labels(y)
            self._device_labels_checked = y.device.type != "cpu"
        if y.shape != (len(x),):
            raise ValueError(f"expected one label per image, shape ({len(x)},), got {tuple(y.shape)}")
        return y

    def encode(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        return self.encoder(x, self._labels(x, y))

    def decode(self, z: Tensor, y: Tensor | None) -> Tensor:
        return self.decoder(z, self._labels(z, y))


class MixturePriorVAE(VAE):
    """A VAE whose prior is an equally weighted mixture of diagonal Gaussians that it learns.

    A subclass says where the mixture comes from (:meth:`prior_components`). The KL term is a
    single-sample Monte Carlo estimate ``log q(z|x) - log p(z)`` at the z the reconstruction
    used; the importance-sampled bound uses the learned prior, and the export ships the
    mixture as ``prior.onnx`` so that every client samples from it.
    """

    def log_prior(self, z: Tensor) -> Tensor:
        means, logvars = self.prior_components()
        return mixture_log_prob(z, means, logvars)

    def kl(self, mean: Tensor, logvar: Tensor, z: Tensor) -> Tensor:
        return gaussian_log_prob(z, mean, logvar) - self.log_prior(z)


class VampPrior(MixturePriorVAE):
    """A VAE whose prior is ``p(z) = 1/K sum_k q(z | u_k)`` over K learned pseudo-inputs.

    The pseudo-inputs ``u_k`` are stored as logits (``sigmoid`` keeps them images in [0, 1])
    and encoded by the model's own encoder on every training step. The KL term is a
    single-sample Monte Carlo estimate ``log q(z|x) - log p(z)`` at the z the reconstruction
    used; the importance-sampled bound uses the learned prior. The export writes the
    mixture (:meth:`prior_components`) so the runtime samples from it.
    """

    config_class = VampConfig
    learned_prior = "vamp"

    def __init__(self, config: VampConfig):
        super().__init__(config)
        shape = (config.components, config.in_channels, config.image_size, config.image_size)
        # grey-ish random images (sigmoid(-1 +/- 0.3): about 0.2 to 0.35)
        self.pseudo_logits = nn.Parameter(torch.randn(shape) * 0.3 - 1.0)
        self._cache: tuple[tuple[int, ...], tuple[Tensor, Tensor]] | None = None

    def train(self, mode: bool = True) -> VampPrior:
        self._cache = None  # switching modes (e.g. after training steps) drops the cached prior
        return super().train(mode)

    def pseudo_inputs(self) -> Tensor:
        return torch.sigmoid(self.pseudo_logits)

    def prior_components(self) -> tuple[Tensor, Tensor]:
        """The prior's mixture ``(means [K, D], logvars [K, D])``; cached while gradients are
        off and no parameter has changed since it was computed."""
        if torch.is_grad_enabled():
            return self.encoder(self.pseudo_inputs())
        key = tuple(p._version for p in self.parameters())
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.encoder(self.pseudo_inputs()))
        return self._cache[1]



class MoGPrior(MixturePriorVAE):
    """A VAE whose prior is ``p(z) = 1/K sum_k N(z; mu_k, diag(exp(logvar_k)))`` with the K
    means and log-variances learned with the networks.

    The means start as N(0, I) draws and the variances at 1, so the untrained prior is close
    to N(0, I) spread over K bumps.
    """

    config_class = MoGConfig
    learned_prior = "mog"

    def __init__(self, config: MoGConfig):
        super().__init__(config)
        self.prior_means = nn.Parameter(torch.randn(config.gaussians, config.latent_dim))  # [K, D]
        self.prior_logvars = nn.Parameter(torch.zeros(config.gaussians, config.latent_dim))  # [K, D]

    def prior_components(self) -> tuple[Tensor, Tensor]:
        """The prior's mixture ``(means [K, D], logvars [K, D])``: the parameters themselves
        while gradients are on, detached views otherwise (for the export)."""
        if torch.is_grad_enabled():
            return self.prior_means, self.prior_logvars
        return self.prior_means.detach(), self.prior_logvars.detach()


def mixture_log_prob(z: Tensor, means: Tensor, logvars: Tensor) -> Tensor:
    """``log 1/K sum_k N(z; means_k, exp(logvars_k))`` for ``z [..., D]``: ``[...]``.

    Elementwise (no matmul), so bf16 autocast leaves it in float32.
    """
    z = z.float().unsqueeze(-2)  # [..., 1, D]
    log_n = gaussian_log_prob(z, means.float(), logvars.float())  # [..., K]
    return torch.logsumexp(log_n, dim=-1) - math.log(means.shape[0])
