"""The U-Net-inspired VAE: an Encoder and a Decoder that export as two separate graphs.

Encoder ``[N, C, H, W] in [0, 1] -> (mean, logvar) [N, D]``::

    input projection (3x3 conv, C -> dim)
    for each stage (c_in -> c_out):  ConvBlock(s) -> Downsample      # H/2, channels up
    ResidualBlocks at the bottleneck
    norm -> SiLU -> flatten -> Linear -> (mean, logvar)

Decoder ``z [N, D] -> params [N, P*C, H, W]`` mirrors it (Linear -> reshape ->
ResidualBlocks -> Upsample + ConvBlock(s) per stage -> output projection). No skip
connection crosses the latent. The bottleneck shape is computed from the config, never
hard-coded.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .blocks import ConvBlock, Downsample, ResidualBlock, Upsample, make_norm
from .config import BetaVAEConfig, VAEConfig
from .objective import (
    Likelihood,
    gaussian_kl,
    gaussian_log_prob,
    get_likelihood,
    kl_warmup,
    reparameterize,
    standard_normal_log_prob,
)

MODELS: dict[str, type[VAE]] = {}


def register(name: str) -> Callable[[type[VAE]], type[VAE]]:
    """Register a VAE variant under the ``model_type`` its config declares."""

    def wrap(cls: type[VAE]) -> type[VAE]:
        if cls.config_class.model_type != name:
            raise TypeError(f"{cls.__name__}.config_class.model_type must be {name!r}")
        MODELS[name] = cls
        return cls

    return wrap


def channel_dims(config: VAEConfig) -> list[int]:
    """``[dim, dim*m_1, ..., dim*m_k]``: stage i maps dims[i] -> dims[i+1] channels."""
    return [config.dim, *(config.dim * m for m in config.dim_mults)]


def bottleneck_shape(config: VAEConfig) -> tuple[int, int, int]:
    side = config.image_size // 2 ** len(config.dim_mults)
    return channel_dims(config)[-1], side, side


class Encoder(nn.Module):
    """``image [N, C, H, W] in [0, 1] -> (mean [N, D], logvar [N, D])``."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        dims = channel_dims(config)
        norm = dict(norm=config.norm, groups=config.groups)
        self.input_projection = nn.Conv2d(config.in_channels, dims[0], 3, padding=1)
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

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        h = self.input_projection(image * 2 - 1)
        h = self.bottleneck(self.stages(h))
        mean, logvar = self.head(h).float().chunk(2, dim=1)
        return mean, logvar


class Decoder(nn.Module):
    """``z [N, D] -> likelihood params [N, P*C, H, W]`` (P = params per channel)."""

    def __init__(self, config: VAEConfig, likelihood: Likelihood):
        super().__init__()
        dims = channel_dims(config)
        norm = dict(norm=config.norm, groups=config.groups)
        self.bottleneck_shape = bottleneck_shape(config)
        c, h, w = self.bottleneck_shape
        self.input_projection = nn.Linear(config.latent_dim, c * h * w)
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
            nn.Conv2d(dims[0], likelihood.params_per_channel * config.in_channels, 3, padding=1),
        )
        likelihood.init_output_bias(self.output_projection[-1].bias)

    def forward(self, z: Tensor) -> Tensor:
        h = self.input_projection(z).unflatten(1, self.bottleneck_shape)
        h = self.stages(self.bottleneck(h))
        return self.output_projection(h).float()


class DecoderMean(nn.Module):
    """``z [N, D] -> image [N, C, H, W] in [0, 1]``: the graph that ships as decoder.onnx."""

    def __init__(self, decoder: Decoder, likelihood: Likelihood):
        super().__init__()
        self.decoder = decoder
        self.likelihood = likelihood

    def forward(self, z: Tensor) -> Tensor:
        return self.likelihood.mean(self.decoder(z))


@register("vae")
class VAE(nn.Module):
    """The VAE of Kingma & Welling with a U-Net-style encoder and decoder.

    ``forward(x)`` returns the named terms, each a scalar in nats per dimension (averaged
    over the batch): ``loss`` (what is minimised), ``elbo``, ``recon`` and ``kl``.
    """

    config_class: type[VAEConfig] = VAEConfig

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

    def kl_weight(self, step: int, warmup_steps: int = 0) -> float:
        """Weight of the KL term at optimiser step ``step``: a pure function of the step."""
        return kl_warmup(step, warmup_steps)

    def terms(self, x: Tensor, *, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Per-image terms in nats, each ``[N]``: ``recon`` (NLL), ``kl`` and ``elbo``."""
        mean, logvar = self.encoder(x)
        z = reparameterize(mean, logvar, generator=generator)
        recon = self.likelihood.nll(self.decoder(z), x)
        kl = gaussian_kl(mean, logvar)
        return {"recon": recon, "kl": kl, "elbo": -(recon + kl)}

    def forward(self, x: Tensor, *, kl_weight: float = 1.0) -> dict[str, Tensor]:
        t = self.terms(x)
        dims = self.data_dims
        recon, kl = t["recon"].mean() / dims, t["kl"].mean() / dims
        return {"loss": recon + kl_weight * kl, "elbo": -(recon + kl), "recon": recon, "kl": kl}

    @torch.no_grad()
    def log_importance_weights(
        self, x: Tensor, samples: int, *, chunk: int = 0, generator: torch.Generator | None = None
    ) -> Tensor:
        """``log p(x|z_k) + log p(z_k) - log q(z_k|x)`` for K samples per image: ``[K, N]``.

        Images and samples are batched together; ``chunk`` caps how many samples per image
        are decoded at once (0: all K).
        """
        mean, logvar = self.encoder(x)
        chunk = chunk or samples
        out = []
        for start in range(0, samples, chunk):
            k = min(chunk, samples - start)
            eps = torch.randn((k, *mean.shape), generator=generator, device=x.device)
            z = mean + torch.exp(0.5 * logvar) * eps  # [k, N, D]
            params = self.decoder(z.flatten(0, 1))
            log_px = -self.likelihood.nll(params, x.repeat(k, 1, 1, 1)).view(k, -1)
            out.append(log_px + standard_normal_log_prob(z) - gaussian_log_prob(z, mean, logvar))
        return torch.cat(out)

    def decoder_mean(self) -> DecoderMean:
        return DecoderMean(self.decoder, self.likelihood)


@register("beta_vae")
class BetaVAE(VAE):
    """beta-VAE: the KL term weighted by ``config.beta`` (beta=1 is the VAE)."""

    config_class = BetaVAEConfig

    def kl_weight(self, step: int, warmup_steps: int = 0) -> float:
        return self.config.beta * super().kl_weight(step, warmup_steps)


def build_model(config: VAEConfig) -> VAE:
    return MODELS[config.model_type](config)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
