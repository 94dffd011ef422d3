// Which model and which precision: the list of models the demo serves (models/index.json next
// to the page; a static host without one needs ?model=URL) and the pickers. The precisions a
// model ships and its decoder file come from the checked contract (contract.js).

import { shippedPrecisions } from "./contract.js";

// [{ name, url, dataset, latent_dim, precisions, ... }] from models/index.json, or null
export async function loadModelList() {
  try {
    const response = await fetch("models/index.json");
    if (!response.ok) return null;
    const list = await response.json();
    return Array.isArray(list) ? list : null;
  } catch {
    return null;
  }
}

function pageUrl(model, precision) {
  const next = new URLSearchParams(location.search);
  next.set("model", model);
  if (precision && precision !== "fp32") next.set("precision", precision); else next.delete("precision");
  return `${location.pathname}?${next}`;
}

// The model menu (when the demo lists its models) and the precision menu; choosing reloads the page
export function showPickers({ list, model, contract, precision }) {
  const modelPicker = document.getElementById("model-picker");
  if (list?.length) {
    const known = list.some((m) => m.url === model);
    for (const m of list) modelPicker.add(new Option(`${m.name} (${m.dataset}, latent ${m.latent_dim})`, m.url));
    if (!known && model) modelPicker.add(new Option(model, model));
    if (!model) modelPicker.add(new Option("choose a model", ""), 0);
    modelPicker.value = model ?? "";
    modelPicker.addEventListener("change", () => {
      if (modelPicker.value) location.href = pageUrl(modelPicker.value, precision);
    });
    document.getElementById("model-box").hidden = false;
    document.getElementById("demo-link").hidden = false;
  }
  if (contract) {
    const precisionPicker = document.getElementById("precision-picker");
    for (const p of shippedPrecisions(contract)) precisionPicker.add(new Option(p, p));
    precisionPicker.value = precision;
    precisionPicker.addEventListener("change", () => { location.href = pageUrl(model, precisionPicker.value); });
    document.getElementById("precision-box").hidden = false;
  }
}

// No ?model=: a list of links (from the demo), or how to name one
export function showModelList(list) {
  const section = document.getElementById("model-list");
  const items = document.getElementById("models");
  for (const m of list ?? []) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = pageUrl(m.url);
    link.textContent = m.name;
    item.append(link, ` ${m.dataset}, ${m.channels}x${m.height}x${m.width}, latent ${m.latent_dim}, ` +
                      `precisions ${m.precisions.join("/")}`);
    items.append(item);
  }
  section.hidden = !list?.length;
  return list?.length
    ? "pick a model"
    : "no model: open this page with ?model=URL of an export folder (holding vaekit.json and decoder.onnx), " +
      "e.g. ?model=/checkpoints/mnist-z2/onnx/, or serve it with `python -m vaekit.demo`, which lists its models here";
}
