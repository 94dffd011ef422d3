// The 2-D pad's background: where the export's test images (examples.npz) lie in the latent
// plane, one dot per image at its encoder mean, coloured by class, with axis values.

import { readNpz } from "./npz.js";

// matplotlib's tab10, the colours of the demo's and the figures' latent scatter
export const CLASS_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const CHUNK = 256; // images per encoder run

// Encode the shipped test images: { means: Float32Array [n, 2], labels: number[], names: string[] }
// (null when the export has no examples.npz).
export async function loadScatter(base, contract, ep) {
  const response = await fetch(base + "examples.npz");
  if (!response.ok) return null;
  const arrays = await readNpz(await response.arrayBuffer());
  const { images, labels, classes } = arrays;
  const [n, C, H, W] = images.shape;
  const size = C * H * W;
  const encoder = await ort.InferenceSession.create(base + "encoder.onnx", { executionProviders: [ep] });
  const means = new Float32Array(n * 2);
  const label = Array.from(labels.data, (v) => Number(v));
  for (let start = 0; start < n; start += CHUNK) {
    const m = Math.min(CHUNK, n - start);
    const pixels = Float32Array.from(images.data.subarray(start * size, (start + m) * size), (v) => v / 255);
    const feeds = { image: new ort.Tensor("float32", pixels, [m, C, H, W]) };
    if (contract.num_classes) {
      feeds.label = new ort.Tensor("int64", BigInt64Array.from(label.slice(start, start + m), BigInt), [m]);
    }
    const out = await encoder.run(feeds);
    means.set(out.mean.data, start * 2);
  }
  await encoder.release?.();
  const names = contract.class_names?.length ? contract.class_names
    : (classes?.data ?? Array.from(new Set(label)).sort((a, b) => a - b).map(String));
  return { means, labels: label, names };
}

// The pad at `size` px spans [-range, range]^2 (z1 to the right, z2 up): grid, dots, axis values.
export function paintPad(ctx, size, range, scatter) {
  const s = size / (2 * range);
  const px = (z1) => (z1 + range) * s, py = (z2) => (range - z2) * s;
  ctx.clearRect(0, 0, size, size);
  ctx.strokeStyle = "#ddd";
  ctx.beginPath();
  for (let v = -range; v <= range; v++) {
    ctx.moveTo(px(v), 0); ctx.lineTo(px(v), size);
    ctx.moveTo(0, py(v)); ctx.lineTo(size, py(v));
  }
  ctx.stroke();
  ctx.strokeStyle = "#999";
  ctx.beginPath();
  ctx.moveTo(px(0), 0); ctx.lineTo(px(0), size);
  ctx.moveTo(0, py(0)); ctx.lineTo(size, py(0));
  ctx.stroke();
  if (scatter) {
    ctx.globalAlpha = 0.55;
    for (let i = 0; i < scatter.labels.length; i++) {
      ctx.fillStyle = CLASS_COLOURS[scatter.labels[i] % CLASS_COLOURS.length];
      ctx.fillRect(px(scatter.means[2 * i]) - 1.5, py(scatter.means[2 * i + 1]) - 1.5, 3, 3);
    }
    ctx.globalAlpha = 1;
  }
  ctx.fillStyle = "#444";
  ctx.font = "10px ui-sans-serif, system-ui, sans-serif";
  for (let v = -range + 1; v < range; v++) {
    ctx.fillText(String(v), px(v) + 2, size - 3); // z1 along the bottom
    if (v !== 0) ctx.fillText(String(v), 2, py(v) - 2); // z2 along the left
  }
  ctx.fillText("z1 \u2192", size - 34, py(0) - 4);
  ctx.fillText("\u2191 z2", px(0) + 4, 11);
}

export function fillLegend(element, scatter) {
  element.replaceChildren(...scatter.names.map((name, k) => {
    const item = document.createElement("span");
    const dot = document.createElement("i");
    dot.style.background = CLASS_COLOURS[k % CLASS_COLOURS.length];
    item.append(dot, name);
    return item;
  }));
}
