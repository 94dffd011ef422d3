#!/usr/bin/env node
// Decode a batch with a vaekit decoder.onnx in Node.js and write one PNG per image.
//
//   node decode.mjs FOLDER [--count 16] [--seed 0] [--temperature 1] [--precision fp32]
//                   [--prior NAME] [--label K] [--out samples] [--z z.json] [--raw images.f32]
//                   [--latents-out latents.json] [--decoder full|fast]
//
// FOLDER is an export folder holding vaekit.json and decoder.onnx, or a checkpoint folder
// whose onnx/ subfolder is one (`python -m vaekit.export CHECKPOINT` writes CHECKPOINT/onnx). The shape (C, H, W, latent_dim) comes from vaekit.json: the
// JavaScript API of onnxruntime cannot read a graph's metadata. z is drawn from the export's
// prior: seeded noise (the same as the browser page's: eps ~ N(0, I) times --temperature, u ~
// U[0, 1)) through prior.onnx when the export ships a fitted or learned prior (its sha256
// checked against vaekit.json), or z = eps with --prior normal; or z is read from --z (a JSON
// array of n rows of latent_dim numbers). A conditional model decodes class --label (default:
// every class in turn). --raw also writes the decoded float32 [n, C, H, W] values;
// --latents-out the prior's name, eps, u and z as JSON.
// --decoder fast decodes with the distilled decoder.fast.onnx, where the export has one.
// Needs only onnxruntime-node; PNGs are encoded with Node's own zlib.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { deflateSync } from "node:zlib";

import ort from "onnxruntime-node";

// seeded noise, the same for a seed as the browser page's, and the prior graph that maps it to z
import { normals, uniforms } from "../../web/normals.js";
import { checkedPriorBytes, priorLatents, priorNames } from "../../web/prior.js";
// vaekit.json checked against the schema generated from the Python record, as the page checks it
import { MAX_ABS_LATENT, decoderFile, readContract, shapeOf, shippedPrecisions } from "../../web/contract.js";

const USAGE = "usage: node decode.mjs FOLDER [--count N] [--seed S] [--temperature T] " +
  "[--precision fp32|fp16|int8] [--prior NAME] [--label K] [--out DIR] [--z FILE.json] [--raw FILE] " +
  "[--latents-out FILE.json] [--decoder full|fast]";
const MAX_COUNT = 4096; // the most images one run decodes (--count, or rows of --z)
const OPTIONS = { count: "16", seed: "0", temperature: "1", precision: "fp32", out: "samples", z: null, raw: null,
                  prior: null, label: null, "latents-out": null, decoder: "full" };

function parseArgs(argv) {
  const args = { ...OPTIONS, folder: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-h" || a === "--help") { console.log(USAGE); process.exit(0); }
    if (a.startsWith("--")) {
      const key = a.slice(2);
      if (!(key in OPTIONS)) fail(`unknown option ${a}\n${USAGE}`);
      if (i + 1 >= argv.length) fail(`${a} needs a value\n${USAGE}`);
      args[key] = argv[++i];
    } else if (args.folder === null) {
      args.folder = a;
    } else {
      fail(`unexpected argument ${a}\n${USAGE}`);
    }
  }
  if (args.folder === null) fail(USAGE);
  const number = (name, lo, hi, integer) => {
    const v = Number(args[name]);
    if (!Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v))) {
      fail(`--${name} must be ${integer ? "a whole number " : ""}in ${lo}..${hi}, got ${args[name]}`);
    }
    return v;
  };
  args.count = number("count", 1, MAX_COUNT, true);
  args.seed = number("seed", 0, 2 ** 32 - 1, true);
  args.temperature = number("temperature", 0, 10, false);
  if (!["fp32", "fp16", "int8"].includes(args.precision)) fail(`--precision must be fp32, fp16 or int8, got ${args.precision}`);
  if (!["full", "fast"].includes(args.decoder)) fail(`--decoder must be full or fast, got ${args.decoder}`);
  args.folder = exportFolder(args.folder);
  return args;
}

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(2);
}

// ------------------------------------------------------------------------- PNG

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

// one image [C, H, W] in [0, 1] -> PNG bytes (grey for C = 1, RGB for C = 3), round(v * 255)
function png(values, c, h, w) {
  const rows = Buffer.alloc(h * (1 + w * c));
  for (let y = 0; y < h; y++) {
    rows[y * (1 + w * c)] = 0; // filter: none
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) {
        const v = Math.min(1, Math.max(0, values[(ch * h + y) * w + x]));
        rows[y * (1 + w * c) + 1 + x * c + ch] = Math.round(v * 255);
      }
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(w, 0);
  header.writeUInt32BE(h, 4);
  header[8] = 8; // bit depth
  header[9] = c === 1 ? 0 : 2; // greyscale or truecolour
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

// ------------------------------------------------------------------------- main

function readJson(path, what) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    fail(`cannot read ${what} ${path}: ${e.message}`);
  }
}

// the export folder for FOLDER: itself, or a checkpoint's onnx/ subfolder (as the Python runtime)
function exportFolder(folder) {
  if (existsSync(join(folder, "vaekit.json"))) return folder;
  if (existsSync(join(folder, "onnx", "vaekit.json"))) return join(folder, "onnx");
  if (!existsSync(folder)) fail(`${folder} does not exist: pass an export folder or a checkpoint folder with onnx/`);
  if (existsSync(join(folder, "config.json"))) {
    fail(`${folder} is a checkpoint without exported graphs: run \`python -m vaekit.export ${folder}\` first`);
  }
  fail(`no vaekit.json in ${folder} nor in ${join(folder, "onnx")}: pass an export folder`);
}

// the prior's name (checked against the contract) and its session (null for N(0, I))
async function openPrior(args, contract) {
  const { names, fallback } = priorNames(contract);
  const name = args.prior ?? fallback;
  if (!names.includes(name)) fail(`--prior ${name}: this model has ${names.join(", ")}`);
  if (name === "normal") return { name, session: null };
  const path = join(args.folder, contract.prior.file);
  if (!existsSync(path)) {
    fail(`${path} is missing: this model samples from its ${name} prior; re-export with ` +
         "`python -m vaekit.export CHECKPOINT` (or pass --prior normal)");
  }
  const digest = async (bytes) => createHash("sha256").update(bytes).digest("hex");
  const bytes = await checkedPriorBytes(contract, new Uint8Array(readFileSync(path)), digest);
  return { name, session: await ort.InferenceSession.create(bytes, { executionProviders: ["cpu"] }) };
}

// the class of each image: --label K, or every class in turn (null: an unconditional model)
function labels(args, numClasses, n) {
  if (!numClasses) {
    if (args.label !== null) fail("--label: this model is not conditional (it takes no class)");
    return null;
  }
  if (args.label === null) return BigInt64Array.from({ length: n }, (_, i) => BigInt(i % numClasses));
  const k = Number(args.label);
  if (!Number.isInteger(k) || k < 0 || k >= numClasses) {
    fail(`--label must be a class index in 0..${numClasses - 1} (see class_names in vaekit.json), got ${args.label}`);
  }
  return new BigInt64Array(n).fill(BigInt(k));
}

async function latents(args, n, d, prior) {
  if (args.z === null) {
    const eps = normals(args.seed, n * d).map((v) => v * args.temperature);
    const u = uniforms(args.seed, n);
    const z = await priorLatents(ort, prior.session, prior.name, eps, u, n, d);
    if (args["latents-out"] !== null) {
      writeFileSync(args["latents-out"], JSON.stringify({ prior: prior.name, eps: Array.from(eps), u: Array.from(u), z: Array.from(z) }));
    }
    return z;
  }
  const rows = readJson(args.z, "--z");
  // a string or null would become NaN in the Float32Array and decode to NaN pictures, silently
  const bad = (r) => !Array.isArray(r) || r.length !== d || r.some((v) => typeof v !== "number");
  if (!Array.isArray(rows) || rows.length < 1 || rows.length > MAX_COUNT || rows.some(bad)) {
    fail(`--z ${args.z} must be a JSON array of 1..${MAX_COUNT} rows of ${d} numbers (the latent size)`);
  }
  // 1e999 parses to Infinity, and latents far from the prior N(0, I) overflow inside the decoder
  const largest = Math.max(...rows.map((r) => Math.max(...r.map(Math.abs))));
  if (!(largest <= MAX_ABS_LATENT)) {
    fail(`--z ${args.z}: latents must satisfy |z| <= ${MAX_ABS_LATENT}, got |z| up to ${largest}: the ` +
         `prior is N(0, I) (typical |z| < 5) and latents this far out overflow inside the decoder; scale them down`);
  }
  return Float32Array.from(rows.flat());
}

// the graph to load: decoder[.fp16|.int8].onnx, or the distilled decoder.fast[...].onnx, of a
// precision the export ships (vaekit.json lists fp16/int8 under variants)
function graphFile(contract, precision, decoder) {
  const shipped = shippedPrecisions(contract);
  if (decoder === "full" && !shipped.includes(precision)) {
    fail(`this export has no ${precision} graphs (it ships ${shipped.join(", ")}): pass --precision ` +
         `${shipped.join(" or ")}, or re-export with --${precision}`);
  }
  try {
    return decoderFile(contract, precision, decoder);
  } catch (e) {
    fail(e.message);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const where = join(args.folder, "vaekit.json");
  let contract;
  try {
    contract = readContract(readJson(where, "the export contract"), where);
  } catch (e) {
    fail(e.message);
  }
  const { C: c, H: h, W: w, D: d, K: numClasses } = shapeOf(contract);
  const file = graphFile(contract, args.precision, args.decoder);

  let t0 = performance.now();
  const session = await ort.InferenceSession.create(join(args.folder, file), { executionProviders: ["cpu"] });
  const loadMs = performance.now() - t0;

  const prior = await openPrior(args, contract);
  const z = await latents(args, args.count, d, prior);
  const n = z.length / d;
  const feeds = { z: new ort.Tensor("float32", z, [n, d]) };
  const y = labels(args, numClasses, n);
  if (y !== null) feeds.label = new ort.Tensor("int64", y, [n]);
  t0 = performance.now();
  const first = await session.run(feeds);
  const firstMs = performance.now() - t0;
  const repeats = 10;
  t0 = performance.now();
  for (let i = 0; i < repeats; i++) await session.run(feeds);
  const runMs = (performance.now() - t0) / repeats;

  const images = first.image.data;
  const bad = images.reduce((count, v) => count + (Number.isFinite(v) ? 0 : 1), 0);
  if (bad) {  // a NaN picture is an error, never a silent result (as in the Python runtime)
    fail(`the decoder returned ${bad} non-finite pixel values: the latents are too far from the prior ` +
         `N(0, I) for this graph's arithmetic (fp16 graphs overflow sooner); pass latents closer to 0 ` +
         `or --precision fp32`);
  }
  mkdirSync(args.out, { recursive: true });
  const size = c * h * w;
  for (let i = 0; i < n; i++) {
    writeFileSync(join(args.out, `sample-${String(i).padStart(3, "0")}.png`), png(images.subarray(i * size, (i + 1) * size), c, h, w));
  }
  if (args.raw !== null) writeFileSync(args.raw, Buffer.from(images.buffer, images.byteOffset, images.byteLength));
  const source = args.z === null ? `prior ${prior.name}` : `z from ${args.z}`;
  console.log(`${contract.dataset}: ${file} on onnxruntime-node ${ort.env.versions?.node ?? ""} (cpu), ${source}`);
  console.log(`session ${loadMs.toFixed(1)} ms, first decode ${firstMs.toFixed(2)} ms, ` +
              `decode of ${n} images ${runMs.toFixed(2)} ms (mean of ${repeats})`);
  console.log(`wrote ${n} PNGs (${c}x${h}x${w}) to ${args.out}`);
}

main().catch((e) => fail(e.message ?? String(e)));
