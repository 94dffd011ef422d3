// Run ONNX graphs with onnxruntime-node for the client matrix test (tests/embed/test_matrix.py).
//
//   node run_graphs.mjs JOBS.json
//
// JOBS.json: [{"graph": path, "inputs": {name: {"dims": [...], "file": path}}, "out": prefix}].
// Each input is raw little-endian float32 (int64 where its spec says "dtype": "int64"); each output is written to PREFIX.NAME.f32, and a
// graph that fails to load or run writes PREFIX.error with the message instead.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

// onnxruntime-node is installed next to the Node example (make npm-deps)
const require = createRequire(fileURLToPath(new URL("../../examples/node/package.json", import.meta.url)));
const ort = require("onnxruntime-node");

const jobs = JSON.parse(readFileSync(process.argv[2], "utf8"));
for (const job of jobs) {
  try {
    const session = await ort.InferenceSession.create(job.graph, { executionProviders: ["cpu"] });
    const feeds = {};
    for (const [name, spec] of Object.entries(job.inputs)) {
      const bytes = readFileSync(spec.file);
      const raw = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      feeds[name] = spec.dtype === "int64"
        ? new ort.Tensor("int64", new BigInt64Array(raw), spec.dims)
        : new ort.Tensor("float32", new Float32Array(raw), spec.dims);
    }
    const out = await session.run(feeds);
    for (const [name, tensor] of Object.entries(out)) {
      const data = tensor.data;
      writeFileSync(`${job.out}.${name}.f32`, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    }
  } catch (e) {
    writeFileSync(`${job.out}.error`, String(e.message ?? e));
  }
}
console.log(`onnxruntime-node ${ort.env.versions?.node ?? "?"}: ran ${jobs.length} graphs`);
