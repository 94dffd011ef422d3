"""The latent-space scatter of a 2-D model, rendered once and marked cheaply per request.

Matplotlib draws the scatter of the test images' latent means (coloured by label) into a
uint8 RGB array once per model; :class:`LatentScatter` remembers the axes' pixel box, so
marking the chosen point, or turning a click on the picture back into latent coordinates,
is plain numpy (no re-render, safe from many threads: no pyplot state is touched).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MARKER_RADIUS = 9


@dataclass(frozen=True)
class LatentScatter:
    """A rendered scatter: ``image`` uint8 ``[H, W, 3]`` and the map between latent and pixel.

    ``x_range`` / ``y_range`` are the data limits of the axes; ``box`` is the axes' pixel box
    ``(left, top, right, bottom)`` in image coordinates (y grows downwards).
    """

    image: np.ndarray
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    box: tuple[float, float, float, float]

    def to_pixel(self, z1: float, z2: float) -> tuple[float, float]:
        """Latent ``(z1, z2)`` -> pixel ``(x, y)`` in :attr:`image`."""
        left, top, right, bottom = self.box
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        x = left + (z1 - x0) / (x1 - x0) * (right - left)
        y = bottom - (z2 - y0) / (y1 - y0) * (bottom - top)
        return x, y

    def to_latent(self, x: float, y: float) -> tuple[float, float]:
        """Pixel ``(x, y)`` in :attr:`image` -> latent ``(z1, z2)`` (inverse of to_pixel)."""
        left, top, right, bottom = self.box
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        z1 = x0 + (x - left) / (right - left) * (x1 - x0)
        z2 = y0 + (bottom - y) / (bottom - top) * (y1 - y0)
        return z1, z2

    def marked(self, z1: float, z2: float) -> np.ndarray:
        """A copy of :attr:`image` with a ring and cross-hair at latent ``(z1, z2)``."""
        out = self.image.copy()
        h, w = out.shape[:2]
        cx, cy = self.to_pixel(z1, z2)
        yy, xx = np.ogrid[:h, :w]
        dist = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        ring = np.abs(dist - MARKER_RADIUS) < 1.6
        halo = np.abs(dist - MARKER_RADIUS) < 3.2
        left, top, right, bottom = (int(np.rint(v)) for v in self.box)
        inside = (xx >= left) & (xx <= right) & (yy >= top) & (yy <= bottom)
        cross = ((np.abs(xx - cx) < 0.8) | (np.abs(yy - cy) < 0.8)) & inside & (dist > MARKER_RADIUS + 3)
        out[cross] = (out[cross] * 0.5 + np.array([120, 120, 120]) * 0.5).astype(np.uint8)
        out[halo] = (255, 255, 255)
        out[ring] = (220, 20, 60)
        return out


def render_scatter(
    points: np.ndarray,
    labels: np.ndarray | None,
    classes: list[str] | tuple[str, ...] = (),
    *,
    limit: float = 3.0,
    size_px: int = 480,
    title: str = "",
) -> LatentScatter:
    """Draw ``points`` ``[N, 2]`` coloured by ``labels`` ``[N]`` on square axes ``[-limit, limit]``.

    ``points`` may be empty (a model exported without examples): the axes are still drawn
    so the chosen point can be shown.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    dpi = 100
    fig = Figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.11, 0.09, 0.86, 0.84))
    if len(points):
        if labels is not None and len(labels) == len(points) and np.any(labels >= 0):
            labels = np.asarray(labels)
            cmap = "tab10" if labels.max() < 10 else "tab20"
            sc = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap=cmap, s=5, alpha=0.75,
                            vmin=-0.5, vmax=(9.5 if labels.max() < 10 else 19.5), linewidths=0)
            present = sorted(int(v) for v in np.unique(labels) if v >= 0)
            handles = []
            for k in present:
                name = classes[k] if k < len(classes) else str(k)
                handles.append(ax.scatter([], [], color=sc.cmap(sc.norm(k)), s=18, label=name))
            if len(present) <= 10:
                ax.legend(handles=handles, loc="upper right", fontsize=7, markerscale=1.0,
                          framealpha=0.8, handletextpad=0.1, borderpad=0.3, labelspacing=0.2)
        else:
            ax.scatter(points[:, 0], points[:, 1], s=5, alpha=0.6, color="tab:blue", linewidths=0)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_xlabel("z1", fontsize=9)
    ax.set_ylabel("z2", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(True, alpha=0.25)
    if title:
        ax.set_title(title, fontsize=10)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    image = np.ascontiguousarray(rgba[:, :, :3])
    height = image.shape[0]
    bbox = ax.get_window_extent()  # display pixels, origin bottom-left
    box = (float(bbox.x0), float(height - bbox.y1), float(bbox.x1), float(height - bbox.y0))
    return LatentScatter(image=image, x_range=(-limit, limit), y_range=(-limit, limit), box=box)
