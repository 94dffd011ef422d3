// A minimal reader of numpy's .npz files (a zip of .npy arrays, stored or deflated), enough for
// an export's examples.npz: uint8, int64, int32 and float32 arrays in C order.

const DTYPES = {
  "|u1": (b) => new Uint8Array(b), "<i8": (b) => new BigInt64Array(b), "<i4": (b) => new Int32Array(b),
  "<f4": (b) => new Float32Array(b),
};

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// .npy bytes -> { dtype, shape, data } (data: a typed array; strings are not supported)
function parseNpy(bytes, name) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== "NUMPY") throw new Error(`${name} is not a .npy array`);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? "").split(",").filter((s) => s.trim()).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${name} is in Fortran order`);
  const body = bytes.slice(start + headerLength); // a copy: typed arrays need an aligned buffer
  const unicode = /^<U(\d+)$/.exec(descr ?? ""); // fixed-width UTF-32 strings (class names)
  if (unicode) {
    const width = Number(unicode[1]), codes = new Uint32Array(body.buffer);
    const n = codes.length / width;
    const data = Array.from({ length: n }, (_, i) =>
      String.fromCodePoint(...codes.subarray(i * width, (i + 1) * width).filter((c) => c !== 0)));
    return { dtype: descr, shape, data };
  }
  const make = DTYPES[descr];
  if (!make) return { dtype: descr, shape, data: null };
  return { dtype: descr, shape, data: make(body.buffer) };
}

// ArrayBuffer of a .npz -> { name (without .npy): { dtype, shape, data } }
export async function readNpz(buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  let end = bytes.length - 22; // the end-of-central-directory record, after an optional comment
  while (end >= 0 && view.getUint32(end, true) !== 0x06054b50) end--;
  if (end < 0) throw new Error("not a zip file");
  const count = view.getUint16(end + 10, true);
  let p = view.getUint32(end + 16, true);
  const arrays = {};
  for (let i = 0; i < count; i++) {
    const method = view.getUint16(p + 10, true), size = view.getUint32(p + 20, true);
    const nameLength = view.getUint16(p + 28, true), extra = view.getUint16(p + 30, true);
    const comment = view.getUint16(p + 32, true), local = view.getUint32(p + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLength));
    const dataStart = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    const raw = bytes.subarray(dataStart, dataStart + size);
    const npy = method === 0 ? raw : method === 8 ? await inflate(raw) : null;
    if (npy === null) throw new Error(`${name}: zip method ${method} is not supported`);
    arrays[name.replace(/\.npy$/, "")] = parseNpy(npy, name);
    p += 46 + nameLength + extra + comment;
  }
  return arrays;
}
