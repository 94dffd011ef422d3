// The prior an export samples from, shared by the page (vaekit.js) and the Node example: N(0, I)
// ("normal": z = eps), or the export's prior.onnx graph mapping noise to z
// (eps float32 [N, D], u float32 [N] -> z float32 [N, D]), named with its sha256 in vaekit.json.

import { NORMAL } from "./contract.js";

export { NORMAL };

// the prior names of a contract (read by contract.js: its prior is always a record):
// ["normal"] or ["normal", NAME], and the default
export function priorNames(contract) {
  const name = contract.prior.name;
  return { names: name === NORMAL ? [NORMAL] : [NORMAL, name], fallback: name };
}

// the prior graph's bytes, checked against vaekit.json; `digest(bytes)` -> hex sha256
// (null: the check is skipped, e.g. crypto.subtle outside a secure context)
export async function checkedPriorBytes(contract, bytes, digest) {
  const record = contract.prior;
  const got = digest ? await digest(bytes) : null;
  if (got !== null && got !== record.sha256) {
    throw new Error(`${record.file} is corrupt or was replaced (its sha256 differs from vaekit.json): ` +
                    "re-export with `python -m vaekit.export CHECKPOINT`");
  }
  return bytes;
}

// z for noise (eps already times the temperature) under `name`, with `session` the prior graph's
export async function priorLatents(ort, session, name, eps, u, n, d) {
  if (name === NORMAL) return Float32Array.from(eps);
  const out = await session.run({
    eps: new ort.Tensor("float32", Float32Array.from(eps), [n, d]),
    u: new ort.Tensor("float32", Float32Array.from(u), [n]),
  });
  return out.z.data;
}
