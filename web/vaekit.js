// vaekit in the browser: vaekit.json + decoder.onnx -> pictures, decoded client-side.
//
// The page reads the model's shape (C, H, W, latent_dim, num_classes), its classes, precisions
// and prior from vaekit.json, checked by contract.js against the schema generated from the Python
// record (onnxruntime-web cannot read graph metadata), creates one onnxruntime-web session
// for the decoder (and one for prior.onnx when the export ships a fitted or learned prior), and
// decodes every sample and every drag of the 2-D point locally: after the page and the graphs
// have loaded, no request leaves the browser.
//
// window.vaekit (for scripts and tests): ready (a Promise), contract, provider, priors (names),
// models (the list the demo serves, or null), scatter (the 2-D pad's test images: means,
// labels, names),
// decode(z, n, labels?) -> Promise<Float32Array> (images [n, C, H, W] in [0, 1]),
// priorLatents(eps, u, n, prior) -> Promise<Float32Array> (z [n, D]),
// sample() -> Promise<void>, setPoint(z1, z2) -> Promise<void>, lastZ (the z last drawn),
// lastNoise ({eps, u, prior}: the noise of the last sample).

import { decoderFile, readContract, shapeOf } from "./contract.js";
import { loadModelList, showModelList, showPickers } from "./models.js";
import { normals, uniforms } from "./normals.js";
import { NORMAL, checkedPriorBytes, priorLatents, priorNames } from "./prior.js";
import { fillLegend, loadScatter, paintPad } from "./scatter.js";

const params = new URLSearchParams(location.search);
const statusEl = document.getElementById("status");
const PAD_RANGE = 3; // the 2-D pad spans [-3, 3] x [-3, 3]
const GAP = 2; // pixels between tiles of the sample grid
const ZOOM = 4;

const api = { contract: null, provider: null, session: null, priorSession: null, priors: [NORMAL],
              lastZ: null, lastNoise: null, models: null, scatter: null };
window.vaekit = api;

function setStatus(text, isError = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle("error", isError);
}

function folderUrl(value) {
  return value.endsWith("/") ? value : value + "/";
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`cannot load ${src}: install onnxruntime-web (make npm-deps) or pass ?ort=URL ` +
      "of its dist/ folder, e.g. &ort=https://cdn.jsdelivr.net/npm/onnxruntime-web@1.30.0/dist/"));
    document.head.appendChild(s);
  });
}

function shape() {
  return shapeOf(api.contract);
}

let running = Promise.resolve();

// one run at a time on the session (runs are queued, never concurrent)
api.decode = function decode(z, n, labels) {
  const { D, K } = shape();
  if (z.length !== n * D) throw new Error(`z has ${z.length} values, expected ${n} x ${D}`);
  const feeds = { z: new ort.Tensor("float32", Float32Array.from(z), [n, D]) };
  if (K) {
    const l = labels ?? new Array(n).fill(0);
    feeds.label = new ort.Tensor("int64", BigInt64Array.from(l, (v) => BigInt(v)), [n]);
  }
  const run = running.then(async () => {
    const out = await api.session.run(feeds);
    return out.image.data;
  });
  running = run.catch(() => undefined);
  return run;
};

// images [n, C, H, W] in [0, 1] -> a grid on the canvas, each pixel round(v * 255)
function draw(canvas, images, n, columns) {
  const { C, H, W } = shape();
  const rows = Math.ceil(n / columns);
  const width = columns * W + (columns - 1) * GAP, height = rows * H + (rows - 1) * GAP;
  canvas.width = width;
  canvas.height = height;
  canvas.style.width = `${width * ZOOM}px`;
  canvas.style.height = `${height * ZOOM}px`;
  const ctx = canvas.getContext("2d");
  const pixels = ctx.createImageData(width, height);
  const byte = (v) => Math.round(Math.min(1, Math.max(0, v)) * 255);
  for (let i = 0; i < n; i++) {
    const ox = (i % columns) * (W + GAP), oy = Math.floor(i / columns) * (H + GAP);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const p = 4 * ((oy + y) * width + ox + x);
        for (let ch = 0; ch < 3; ch++) {
          pixels.data[p + ch] = byte(images[((i * C + (C === 1 ? 0 : ch)) * H + y) * W + x]);
        }
        pixels.data[p + 3] = 255;
      }
    }
  }
  ctx.putImageData(pixels, 0, 0);
}

function intInput(id, lo, hi) {
  const el = document.getElementById(id);
  const v = Number(el.value);
  if (!Number.isFinite(v) || v < lo || v > hi) throw new Error(`${id} must be in ${lo}..${hi}, got ${el.value}`);
  return v;
}

// z for noise under the prior `name` (one run at a time, queued with the decodes)
api.priorLatents = function (eps, u, n, name) {
  const { D } = shape();
  if (!api.priors.includes(name)) throw new Error(`unknown prior ${name}: this model has ${api.priors.join(", ")}`);
  const run = running.then(() => priorLatents(ort, api.priorSession, name, eps, u, n, D));
  running = run.catch(() => undefined);
  return run;
};

api.sample = async function sample() {
  const { D } = shape();
  const seed = Math.floor(intInput("seed", 0, 2 ** 32 - 1));
  const n = Math.floor(intInput("count", 1, 64));
  const temperature = intInput("temperature", 0, 3);
  const prior = document.getElementById("prior").value || NORMAL;
  const eps = normals(seed, n * D).map((v) => v * temperature);
  const u = uniforms(seed, n);
  const label = Number(document.getElementById("label").value || 0);
  const t0 = performance.now();
  const z = await api.priorLatents(eps, u, n, prior);
  const images = await api.decode(z, n, new Array(n).fill(label));
  const ms = performance.now() - t0;
  api.lastZ = Array.from(z);
  api.lastNoise = { eps: Array.from(eps), u: Array.from(u), prior };
  draw(document.getElementById("samples"), images, n, Math.ceil(Math.sqrt(n)));
  document.getElementById("sample-timing").textContent =
    `${n} samples (seed ${seed}, prior ${prior}) drawn and decoded in ${ms.toFixed(1)} ms on ${api.provider}`;
};

async function sha256Hex(bytes) {
  if (!globalThis.crypto?.subtle) {
    console.warn("crypto.subtle is unavailable (not a secure context): the prior graph's sha256 is not checked");
    return null;
  }
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// the prior graph (when the export ships one) and the prior menu, defaulting to the export's
async function loadPrior(base) {
  const { names, fallback } = priorNames(api.contract);
  if (fallback !== NORMAL) {
    const file = api.contract.prior.file;
    const response = await fetch(base + file);
    if (!response.ok) {
      throw new Error(`cannot read ${base}${file} (HTTP ${response.status}): this model samples from its ` +
                      `${fallback} prior; re-export with \`python -m vaekit.export CHECKPOINT\` or copy the whole export folder`);
    }
    const bytes = await checkedPriorBytes(api.contract, new Uint8Array(await response.arrayBuffer()), sha256Hex);
    api.priorSession = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  }
  api.priors = names;
  const wanted = params.get("prior") || fallback;
  if (!names.includes(wanted)) throw new Error(`prior=${wanted}: this model has ${names.join(", ")}`);
  const select = document.getElementById("prior");
  for (const name of names) select.add(new Option(name === NORMAL ? "normal: N(0, I)" : name, name));
  select.value = wanted;
}

// ----------------------------------------------------------------- the 2-D pad

const point = { z1: 0, z2: 0 };

function drawPad() {
  const pad = document.getElementById("pad");
  const ctx = pad.getContext("2d");
  const s = pad.width / (2 * PAD_RANGE);
  paintPad(ctx, pad.width, PAD_RANGE, api.scatter);
  ctx.fillStyle = "#d33";
  ctx.strokeStyle = "#fff";
  ctx.beginPath();
  ctx.arc((point.z1 + PAD_RANGE) * s, (PAD_RANGE - point.z2) * s, 7, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
}

api.setPoint = async function setPoint(z1, z2) {
  point.z1 = Math.max(-PAD_RANGE, Math.min(PAD_RANGE, z1));
  point.z2 = Math.max(-PAD_RANGE, Math.min(PAD_RANGE, z2));
  drawPad();
  const z = [point.z1, point.z2];
  const label = Number(document.getElementById("label").value || 0);
  const t0 = performance.now();
  const images = await api.decode(z, 1, [label]);
  const ms = performance.now() - t0;
  api.lastZ = z;
  draw(document.getElementById("decoded"), images, 1, 1);
  document.getElementById("explorer-timing").textContent =
    `z = (${point.z1.toFixed(2)}, ${point.z2.toFixed(2)}) decoded in ${ms.toFixed(1)} ms on ${api.provider}`;
};

function padEvents() {
  const pad = document.getElementById("pad");
  let dragging = false;
  let pending = null; // the decode under way
  let latest = null; // the newest pointer position not decoded yet
  // one decode at a time; when it ends, the latest position (e.g. the drop) is decoded next
  const decodeLatest = () => {
    const [z1, z2] = latest;
    latest = null;
    pending = api.setPoint(z1, z2).finally(() => {
      pending = null;
      if (latest !== null) decodeLatest();
    });
  };
  const move = (e) => {
    const box = pad.getBoundingClientRect();
    const z1 = ((e.clientX - box.left) / box.width) * 2 * PAD_RANGE - PAD_RANGE;
    const z2 = PAD_RANGE - ((e.clientY - box.top) / box.height) * 2 * PAD_RANGE;
    latest = [z1, z2];
    if (pending === null) decodeLatest();
  };
  pad.addEventListener("pointerdown", (e) => { dragging = true; pad.setPointerCapture(e.pointerId); move(e); });
  pad.addEventListener("pointermove", (e) => { if (dragging) move(e); });
  pad.addEventListener("pointerup", (e) => { dragging = false; move(e); });
}

// ----------------------------------------------------------------- start

async function start() {
  const model = params.get("model");
  api.models = await loadModelList();
  if (!model) {
    showPickers({ list: api.models, model: null });
    setStatus(showModelList(api.models));
    return;
  }
  const base = folderUrl(model);
  // absolute: onnxruntime-web imports its .mjs/.wasm from there, and a bare relative path fails
  const ortBase = new URL(folderUrl(params.get("ort") || "node_modules/onnxruntime-web/dist/"), location.href).href;
  const precision = params.get("precision") || "fp32";
  // WebGPU only where the browser hands out an adapter (navigator.gpu alone is not enough)
  const adapter = params.get("ep") ? null : await navigator.gpu?.requestAdapter().catch(() => null);
  const ep = params.get("ep") || (adapter ? "webgpu" : "wasm");
  if (!["webgpu", "wasm"].includes(ep)) throw new Error(`ep must be webgpu or wasm, got ${ep}`);

  // the WebAssembly-only build is half the download; ort.min.js adds WebGPU
  await loadScript(ortBase + (ep === "wasm" ? "ort.wasm.min.js" : "ort.min.js"));
  ort.env.wasm.wasmPaths = ortBase;
  const response = await fetch(base + "vaekit.json");
  if (!response.ok) throw new Error(`cannot read ${base}vaekit.json (HTTP ${response.status}): is ?model= an export folder?`);
  api.contract = readContract(await response.json(), `${base}vaekit.json`);
  showPickers({ list: api.models, model, contract: api.contract, precision });
  const name = api.models?.find((m) => m.url === model)?.name ?? model;
  // ?decoder=fast: the distilled decoder.fast.onnx (same inputs and outputs), where the export has one
  const file = decoderFile(api.contract, precision, params.get("decoder") || "full", name);
  const t0 = performance.now();
  try {
    api.session = await ort.InferenceSession.create(base + file, { executionProviders: [ep] });
    api.provider = ep;
  } catch (e) {
    if (ep !== "webgpu") throw e;
    console.warn(`WebGPU session failed (${e.message ?? e}); decoding with WebAssembly`);
    api.session = await ort.InferenceSession.create(base + file, { executionProviders: ["wasm"] });
    api.provider = "wasm (WebGPU failed)";
  }
  await loadPrior(base);
  const { C, H, W, D, K } = shape();
  setStatus(`${api.contract.dataset}: ${file} (${C}x${H}x${W}, latent ${D}) loaded in ` +
            `${(performance.now() - t0).toFixed(0)} ms with onnxruntime-web ${ort.env.versions?.web ?? ""} (${api.provider}); ` +
            `prior: ${api.priors.at(-1)}`);

  if (K) {
    const select = document.getElementById("label");
    const names = api.contract.class_names;
    for (let k = 0; k < K; k++) select.add(new Option(names[k] ?? String(k), String(k)));
    document.getElementById("label-box").hidden = false;
  }
  document.getElementById("sampler").hidden = false;
  document.getElementById("sample-button").addEventListener("click", () => api.sample().catch(fail));
  await api.sample();
  if (D === 2) {
    document.getElementById("explorer").hidden = false;
    api.scatter = await loadScatter(base, api.contract, api.provider.startsWith("webgpu") ? "webgpu" : "wasm");
    if (api.scatter) fillLegend(document.getElementById("legend"), api.scatter);
    padEvents();
    await api.setPoint(0, 0);
  }
}

function fail(e) {
  setStatus(`error: ${e.message ?? e}`, true);
  throw e;
}

api.ready = start().then(() => true, fail);
