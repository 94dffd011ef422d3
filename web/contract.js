// vaekit.json read and checked, shared by the page (vaekit.js) and the Node example (decode.mjs).
//
// The contract is checked against its JSON Schema (contract_schema.js, generated from the Python
// record vaekit.format.Contract), then for what a schema cannot say: class_names lists
// num_classes names, the graphs' inputs follow num_classes, the prior draws latents of the model's
// size. readContract returns the contract with the facts an older export may lack filled in
// (num_classes 0, class_names [], prior N(0, I), no variants), so a client reads every fact here.

import { MAX_ABS_LATENT, SCHEMA } from "./contract_schema.js";

export { MAX_ABS_LATENT }; // the largest |z| a decoder is fed (the Python runtime refuses more too)

const REEXPORT = "re-export with `python -m vaekit.export CHECKPOINT`";
const PRECISION_ORDER = ["fp32", "fp16", "int8"];
export const NORMAL = "normal";

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

const join = (path, key) => (path ? `${path}.${key}` : key);

// the first problem of `value` under `schema` (where, and what is wrong), or null; path "" is the root
function problem(value, schema, path) {
  const at = path || "the contract";
  if (schema.$ref) return problem(value, SCHEMA.$defs[schema.$ref.split("/").pop()], path);
  if (schema.anyOf) {
    const found = schema.anyOf.map((s) => problem(value, s, path));
    return found.includes(null) ? null : found.find((p) => !p.endsWith("must be null")) ?? found[0];
  }
  const type = typeOf(value);
  if (schema.type && !(schema.type === type || (schema.type === "number" && type === "integer"))) {
    return `${at} must be ${schema.type === "null" ? "null" : `of type ${schema.type}`}, got ${JSON.stringify(value)}`;
  }
  if ("const" in schema && value !== schema.const) return `${at} must be ${JSON.stringify(schema.const)}, got ${JSON.stringify(value)}`;
  if (schema.enum && !schema.enum.includes(value)) return `${at} must be one of ${schema.enum.join(", ")}, got ${JSON.stringify(value)}`;
  if ("minimum" in schema && value < schema.minimum) return `${at} must be >= ${schema.minimum}, got ${value}`;
  if (type === "array" && schema.items) {
    for (let i = 0; i < value.length; i++) {
      const p = problem(value[i], schema.items, `${at}[${i}]`);
      if (p) return p;
    }
  }
  if (type === "object") {
    for (const key of schema.required ?? []) if (!(key in value)) return `${at} lacks "${key}"`;
    for (const [key, v] of Object.entries(value)) {
      if (schema.propertyNames?.enum && !schema.propertyNames.enum.includes(key)) {
        return `${at} has "${key}", not one of ${schema.propertyNames.enum.join(", ")}`;
      }
      const sub = schema.properties?.[key] ?? schema.additionalProperties;
      if (sub === false || sub === undefined) {
        if (schema.properties) return `${at} has the unknown key "${key}" (a newer export, or a hand edit)`;
        continue;
      }
      const p = problem(v, sub, join(path, key));
      if (p) return p;
    }
  }
  return null;
}

// the cross-field facts the schema cannot state (as vaekit.format.Contract checks them)
function crossProblem(c) {
  const k = c.num_classes ?? 0;
  const names = c.class_names ?? [];
  if (k === 1) return "num_classes must be 0 (unconditional) or an integer >= 2, got 1";
  if (names.length !== k) return `class_names must list ${k} names (num_classes), got ${names.length}`;
  const label = k ? ["label"] : [];
  for (const [key, want] of [["encoder_inputs", ["image", ...label]], ["decoder_inputs", ["z", ...label]]]) {
    if (c[key] && c[key].join() !== want.join()) return `${key} ${JSON.stringify(c[key])} disagree with num_classes ${k}`;
  }
  const prior = c.prior;
  if (prior && (prior.name ?? NORMAL) !== NORMAL && prior.latent_dim !== c.latent_dim) {
    return `prior "${prior.name}" draws latents of size ${prior.latent_dim}, the model's are ${c.latent_dim}: it belongs to another model`;
  }
  if (prior && (prior.name ?? NORMAL) !== NORMAL && !(prior.file && /^[0-9a-f]{64}$/.test(prior.sha256 ?? ""))) {
    return `prior "${prior.name}" lacks its graph's file or sha256`;
  }
  return null;
}

// `json` (the parsed vaekit.json of `where`) checked; an Error naming the key and the fix otherwise.
// Returns the contract with num_classes, class_names, prior and variants always present.
export function readContract(json, where = "vaekit.json") {
  if (typeOf(json) !== "object" || json.format !== SCHEMA.properties.format.const) {
    throw new Error(`${where} is not a vaekit export contract (no "format": "${SCHEMA.properties.format.const}")`);
  }
  // an older export's N(0, I) was {"kind": "normal"} (or no prior at all)
  const olderNormal = !json.prior || (json.prior.kind === NORMAL && Object.keys(json.prior).length === 1);
  const contract = { ...json, prior: olderNormal ? { name: NORMAL } : json.prior };
  const found = problem(contract, SCHEMA, "") ?? crossProblem(contract);
  if (found) throw new Error(`${where}: ${found}; ${REEXPORT}`);
  return Object.freeze({ ...contract, num_classes: json.num_classes ?? 0, class_names: json.class_names ?? [],
                         variants: json.variants ?? {} });
}

// { C, H, W, D, K }: image shape, latent size and number of classes (0: unconditional)
export function shapeOf(contract) {
  return { C: contract.channels, H: contract.height, W: contract.width, D: contract.latent_dim, K: contract.num_classes };
}

// the precisions whose graphs the export ships, in order: fp32 and its variants
export function shippedPrecisions(contract) {
  const variants = Object.keys(contract.variants ?? {});
  return PRECISION_ORDER.filter((p) => p === "fp32" || variants.includes(p));
}

export function isPrecision(precision) {
  return PRECISION_ORDER.includes(precision);
}

// the decoder graph for `precision` and `decoder` ("full" or "fast": the distilled
// decoder.fast.onnx); an Error saying what the export ships otherwise
export function decoderFile(contract, precision, decoder = "full", name = "this export") {
  if (!isPrecision(precision)) throw new Error(`precision must be fp32, fp16 or int8, got ${precision}`);
  if (!["full", "fast"].includes(decoder)) throw new Error(`decoder must be full or fast, got ${decoder}`);
  if (decoder === "full") {
    const shipped = shippedPrecisions(contract);
    if (!shipped.includes(precision)) {
      throw new Error(`${name} has no ${precision} graphs: it ships ${shipped.join(", ")} ` +
                      `(re-export it with --${precision} to add them); pick one of those`);
    }
    return precision === "fp32" ? contract.decoder?.file ?? "decoder.onnx" : contract.variants[precision].decoder.file;
  }
  const fast = contract.fast_decoder;
  if (!fast) throw new Error("this export has no fast decoder: distil one with `python -m vaekit.train.distill CHECKPOINT`, then re-export");
  if (precision === "fp32") return fast.file;
  const variant = (fast.variants ?? {})[precision];
  if (!variant) {
    throw new Error(`this export has no ${precision} fast decoder (` +
                    (precision === "fp16" ? "re-export with --fp16)" : "no int8 copy of a student is written)"));
  }
  return variant.file;
}
