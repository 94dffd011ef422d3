"""The U-Net-inspired VAE: an Encoder and a Decoder that export as two separate graphs.

Encoder ``[N, C, H, W] in [0, 1] -> (mean, logvar) [N, D]``::

    input projection (3x3 conv, C -> dim)
    for each stage (c_in -> c_out):  ConvBlock(s) -> Downsample      # H/2, channels up
    ResidualBlocks at the bottleneck
    norm -> SiLU -> flatten -> Linear -> (mean, logvar)

Decoder ``z [N, D] -> params [N, P, H, W]`` mirrors it (Linear -> reshape ->
ResidualBlocks -> Upsample + ConvBlock(s) per stage -> output projection). No skip
connection crosses the latent. The bottleneck shape is computed from the config, never
hard-coded.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .blocks import ConvBlock, Downsample, ResidualBlock, Upsample, make_norm
from .config import BetaVAEConfig, VAEConfig
from .objective import (
    Likelihood,
    gaussian_kl,
    gaussian_log_prob,
    get_likelihood,
    reparameterize,
    standard_normal_log_prob,
)


def channel_dims(config: VAEConfig) -> list[int]:
    """``[dim, dim*m_1, ..., dim*m_k]``: stage i maps dims[i] -> dims[i+1] channels."""
    return [config.dim, *(config.dim * m for m in config.dim_mults)]


def bottleneck_shape(config: VAEConfig) -> tuple[int, int, int]:
    side = config.image_size // 2 ** len(config.dim_mults)
    return channel_dims(config)[-1], side, side


class Encoder(nn.Module):
    """``image [N, C, H, W] in [0, 1] (, label [N]) -> (mean [N, D], logvar [N, D])``.

    ``num_classes > 0`` conditions on a class label: a learned embedding per class is added to
    every pixel after the input projection.
    """

    def __init__(self, config: VAEConfig, *, num_classes: int = 0):
        super().__init__()
        dims = channel_dims(config)
        norm = dict(norm=config.norm, groups=config.groups)
        self.input_projection = nn.Conv2d(config.in_channels, dims[0], 3, padding=1)
        self.label_embedding = nn.Embedding(num_classes, dims[0]) if num_classes else None
        stages = []
        for c_in, c_out in zip(dims[:-1], dims[1:]):
            blocks = [ConvBlock(in_channels=c_in, out_channels=c_out, **norm)]
            blocks += [
                ConvBlock(in_channels=c_out, out_channels=c_out, **norm)
                for _ in range(config.blocks_per_stage - 1)
            ]
            stages.append(nn.Sequential(*blocks, Downsample(channels=c_out)))
        self.stages = nn.Sequential(*stages)
        self.bottleneck = nn.Sequential(
            *(ResidualBlock(channels=dims[-1], **norm) for _ in range(config.bottleneck_blocks))
        )
        c, h, w = bottleneck_shape(config)
        self.head = nn.Sequential(
            make_norm(config.norm, c, groups=config.groups),
            nn.SiLU(),
            nn.Flatten(),
            nn.Linear(c * h * w, 2 * config.latent_dim),
        )

    def forward(self, image: Tensor, label: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.input_projection(image * 2 - 1)
        if self.label_embedding is not None:
            h = h + self.label_embedding(label)[:, :, None, None].to(h.dtype)
        h = self.bottleneck(self.stages(h))
        mean, logvar = self.head(h).float().chunk(2, dim=1)
        return mean, logvar


class Decoder(nn.Module):
    """``z [N, D] (, label [N]) -> likelihood params [N, P, H, W]``, P = ``param_channels(C)``.

    ``num_classes > 0`` conditions on a class label: a learned vector per class is added to
    the input projection's output, i.e. the one-hot label concatenated to ``z``.
    """

    def __init__(self, config: VAEConfig, likelihood: Likelihood, *, num_classes: int = 0):
        super().__init__()
        dims = channel_dims(config)
        norm = dict(norm=config.norm, groups=config.groups)
        self.bottleneck_shape = bottleneck_shape(config)
        c, h, w = self.bottleneck_shape
        self.input_projection = nn.Linear(config.latent_dim, c * h * w)
        self.label_embedding = nn.Embedding(num_classes, c * h * w) if num_classes else None
        self.bottleneck = nn.Sequential(
            *(ResidualBlock(channels=c, **norm) for _ in range(config.bottleneck_blocks))
        )
        stages = []
        for c_out, c_in in reversed(list(zip(dims[:-1], dims[1:]))):
            blocks = [
                ConvBlock(in_channels=c_in, out_channels=c_in, **norm)
                for _ in range(config.blocks_per_stage - 1)
            ]
            blocks.append(ConvBlock(in_channels=c_in, out_channels=c_out, **norm))
            stages.append(nn.Sequential(Upsample(channels=c_in), *blocks))
        self.stages = nn.Sequential(*stages)
        self.output_projection = nn.Sequential(
            make_norm(config.norm, dims[0], groups=config.groups),
            nn.SiLU(),
            nn.Conv2d(dims[0], likelihood.param_channels(config.in_channels), 3, padding=1),
        )
        likelihood.init_output_bias(self.output_projection[-1].bias)

    def forward(self, z: Tensor, label: Tensor | None = None) -> Tensor:
        h = self.input_projection(z)
        if self.label_embedding is not None:
            h = h + self.label_embedding(label).to(h.dtype)
        h = h.unflatten(1, self.bottleneck_shape)
        h = self.stages(self.bottleneck(h))
        return self.output_projection(h).float()


class DecoderMean(nn.Module):
    """``z [N, D] (, label [N]) -> image [N, C, H, W] in [0, 1]``: the graph that ships as decoder.onnx."""

    def __init__(self, decoder: Decoder, likelihood: Likelihood):
        super().__init__()
        self.decoder = decoder
        self.likelihood = likelihood

    def forward(self, z: Tensor, label: Tensor | None = None) -> Tensor:
        return self.likelihood.mean(self.decoder(z, label))


class VAE(nn.Module):
    """The VAE of Kingma & Welling with a U-Net-style encoder and decoder and a N(0, I) prior.

    ``forward(x, y, kl_scale=w)`` returns the named terms, each a scalar in nats per dimension
    (averaged over the batch): ``loss`` (what is minimised), ``elbo``, ``recon`` and ``kl``.
    ``y`` (int64 class labels, -1 where a dataset has none) is ignored by unconditional
    models; ``w`` is the loop's KL warm-up factor in [0, 1], on top of which a variant applies
    its own weight (:meth:`kl_weight`).

    A variant overrides the seams, not the objective: :meth:`encode` / :meth:`decode` (what
    the networks see), :meth:`log_prior` and :meth:`kl` (the prior), :meth:`forward` (the
    training bound). All random draws stay outside ``encoder`` and ``decoder``, which the
    loop may compile in place.
    """

    config_class: type[VAEConfig] = VAEConfig
    #: the graphs take a class label next to the image / z (the contract says so)
    conditional: bool = False
    #: the name a learned prior (:meth:`prior_components`) ships under in an export; None: N(0, I)
    learned_prior: str | None = None

    def __init__(self, config: VAEConfig):
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}")
        self.config = config
        self.likelihood = get_likelihood(config.likelihood)
        self.encoder = Encoder(config)
        self.decoder = Decoder(config, self.likelihood)

    @property
    def data_dims(self) -> int:
        c = self.config
        return c.in_channels * c.image_size * c.image_size

    # --- the seams a variant overrides -------------------------------------------------

    def encode(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        return self.encoder(x)

    def decode(self, z: Tensor, y: Tensor | None) -> Tensor:
        return self.decoder(z)

    def log_prior(self, z: Tensor) -> Tensor:
        """``log p(z)`` summed over the last dimension."""
        return standard_normal_log_prob(z)

    def kl(self, mean: Tensor, logvar: Tensor, z: Tensor) -> Tensor:
        """KL(q(z|x) || p(z)) per image ``[N]``: analytic for the N(0, I) prior."""
        return gaussian_kl(mean, logvar)

    def kl_weight(self, kl_scale: float = 1.0) -> float:
        """Weight of the KL term given the loop's warm-up factor ``kl_scale`` in [0, 1]."""
        return kl_scale

    def check_labels(self, y: Tensor | None, classes: Sequence[str] = ()) -> None:
        """Refuse labels the model cannot use (a conditional model checks range and classes)."""

    # --- objective ---------------------------------------------------------------------

    def terms(self, x: Tensor, y: Tensor | None = None, *,
              generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Per-image terms in nats, each ``[N]``: ``recon`` (NLL), ``kl`` and ``elbo``."""
        mean, logvar = self.encode(x, y)
        z = reparameterize(mean, logvar, generator=generator)
        recon = self.likelihood.nll(self.decode(z, y), x)
        kl = self.kl(mean, logvar, z)
        return {"recon": recon, "kl": kl, "elbo": -(recon + kl)}

    def forward(self, x: Tensor, y: Tensor | None = None, *, kl_scale: float = 1.0
                ) -> dict[str, Tensor]:
        t = self.terms(x, y)
        dims = self.data_dims
        recon, kl = t["recon"].mean() / dims, t["kl"].mean() / dims
        return {"loss": recon + self.kl_weight(kl_scale) * kl, "elbo": -(recon + kl),
                "recon": recon, "kl": kl}

    def sample_weights(self, x: Tensor, y: Tensor | None, samples: int, *,
                       generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(log p(x|z_k), log p(z_k) - log q(z_k|x))`` for ``samples`` draws: each ``[K, N]``."""
        mean, logvar = self.encode(x, y)
        eps = torch.randn((samples, *mean.shape), generator=generator, device=mean.device,
                          dtype=mean.dtype)
        z = mean + torch.exp(0.5 * logvar) * eps  # [K, N, D]
        yk = None if y is None else y.repeat(samples)
        params = self.decode(z.flatten(0, 1), yk)
        log_px = -self.likelihood.nll(params, x.repeat(samples, 1, 1, 1)).view(samples, -1)
        return log_px, self.log_prior(z) - gaussian_log_prob(z, mean, logvar)

    @torch.no_grad()
    def log_importance_weights(
        self, x: Tensor, y: Tensor | None, samples: int, *, chunk: int = 0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """``log p(x|z_k) + log p(z_k) - log q(z_k|x)`` for K samples per image: ``[K, N]``.

        Images and samples are batched together; ``chunk`` caps how many samples per image
        are decoded at once (0: all K).
        """
        self.check_labels(y)
        chunk = chunk or samples
        out = []
        for start in range(0, samples, chunk):
            log_px, log_ratio = self.sample_weights(x, y, min(chunk, samples - start),
                                                    generator=generator)
            out.append(log_px + log_ratio)
        return torch.cat(out)

    # --- export ------------------------------------------------------------------------

    def decoder_mean(self) -> DecoderMean:
        return DecoderMean(self.decoder, self.likelihood)

    def prior_components(self) -> tuple[Tensor, Tensor] | None:
        """A learned prior's mixture ``(means [K, D], logvars [K, D])``; None for N(0, I)."""
        return None


class BetaVAE(VAE):
    """beta-VAE: the KL term weighted by ``config.beta`` (beta=1 is the VAE)."""

    config_class = BetaVAEConfig

    def kl_weight(self, kl_scale: float = 1.0) -> float:
        return self.config.beta * kl_scale


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

