// Seeded noise, the same for a seed in every browser and in Node: the page (vaekit.js) and the
// Node example (examples/node/decode.mjs) both import this. normals: N(0, 1) draws (mulberry32 +
// Box-Muller), the eps of a prior; uniforms: U[0, 1) draws from a second stream of the same
// seed, the u that picks a mixture component.

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function normals(seed, count) {
  const uniform = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u1 = Math.max(uniform(), 1e-12), u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

export function uniforms(seed, count) {
  const uniform = mulberry32((seed ^ 0x9e3779b9) >>> 0);
  // Math.fround can round a value just below 1 up to 1: keep every draw in [0, 1)
  return Float32Array.from({ length: count }, () => Math.min(uniform(), 0.99999994));
}
