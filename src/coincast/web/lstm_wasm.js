// The LSTM's matrix products as WebAssembly SIMD, assembled here from source at load time.
//
// No compiler is needed (or vendored): the two functions below are written as WebAssembly
// instructions and encoded to the binary format by the few helpers at the top, so the
// module is built from this file wherever the page runs. Both work on float32 matrices in
// one imported memory, four lanes at a time (f32x4), addresses and strides in bytes:
//   axpy(a, sam, sak, b, ldb, c, ldc, M, K, N): C[m, 0:N] += Σ_k A(m, k) · B[k, 0:N]
//     with A(m, k) at a + m·sam + k·sak, so it serves both A·B (sam = row, sak = 4) and
//     Aᵀ·B (sam = 4, sak = row); k runs in blocks of four, m inside, so the C rows stay in
//     cache while four B rows stream, two C rows per load of them; N a multiple of 4.
//   dot(a, lda, b, ldb, c, ldc, M, N, K): C[m, n] += Σ_k A[m, k] · B[n, k]; K a multiple of 4.
//   cell / bcell: the element-wise rest of a step forward and backward (below), with
//     sigmoid and tanh by Cephes's expf (range reduction by ln 2, a degree-5 polynomial,
//     2^k from the exponent bits), within 2 float32 ulps.
// Sums are float32, as in TF.js's own kernels.

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function sleb(n) {
  const out = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return out.concat(b);
    out.push(b | 0x80);
  }
}

const vec = (items) => [...uleb(items.length), ...items.flat()];
const section = (id, body) => [id, ...uleb(body.length), ...body];
const name = (s) => vec([...s].map((ch) => ch.charCodeAt(0)));

// Instructions (https://webassembly.github.io/spec/core/binary/instructions.html).
const get = (i) => [0x20, ...uleb(i)];
const set = (i) => [0x21, ...uleb(i)];
const i32 = (v) => [0x41, ...sleb(v)];
const add = [0x6a];
const mul = [0x6c];
const geS = [0x4e];
const gtS = [0x4a];
const f32load = [0x2a, 2, 0];
const f32add = [0x92];
const vload = [0xfd, 0x00, 4, 0];
const vstore = [0xfd, 0x0b, 4, 0];
const splat = [0xfd, 0x13];
const vadd = [0xfd, ...uleb(228)];
const vmul = [0xfd, ...uleb(230)];
const lane = (k) => [0xfd, 0x1f, k];
const f32zero = [0x43, 0, 0, 0, 0];
const vsub = [0xfd, ...uleb(229)];
const vdiv = [0xfd, ...uleb(231)];
const vmin = [0xfd, ...uleb(232)];
const vmax = [0xfd, ...uleb(233)];
const vnearest = [0xfd, ...uleb(106)];
const itrunc = [0xfd, ...uleb(248)]; // i32x4.trunc_sat_f32x4_s
const iadd = [0xfd, ...uleb(174)];
const ishl = [0xfd, ...uleb(171)];
const tee = (i) => [0x22, ...uleb(i)];
const f4 = (v) => [0xfd, 0x0c, ...new Uint8Array(new Float32Array([v, v, v, v]).buffer)];
const i4 = (v) => [0xfd, 0x0c, ...new Uint8Array(new Int32Array([v, v, v, v]).buffer)];
const inc = (i, by) => [...get(i), ...by, ...add, ...set(i)];
// for (; !(stop); ) { body } as block/loop: stop is code leaving an i32 (1 = leave).
const loop = (stop, body) => [0x02, 0x40, 0x03, 0x40, ...stop, 0x0d, 1, ...body, 0x0c, 0, 0x0b, 0x0b];
const lt = (i, n) => [...get(i), ...get(n), ...geS]; // leave when i >= n

// axpy: params 0 a, 1 sam, 2 sak, 3 b, 4 ldb, 5 c, 6 ldc, 7 M, 8 K, 9 N. Rows of C in
// pairs share each load of B's four rows.
function axpy() {
  const [a, sam, sak, b, ldb, c, ldc, M, K, N] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [k, m, n, nb, ap, b0, b1, b2, b3, cp, cq] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
  const xs = [21, 22, 23, 24];
  const ys = [25, 26, 27, 28];
  const bq = [29, 30, 31, 32];
  const bs = [b0, b1, b2, b3];
  const aAt = [...get(a), ...get(m), ...get(sam), ...mul, ...add, ...get(k), ...get(sak), ...mul, ...add, ...set(ap)];
  const bAt = [...get(b), ...get(k), ...get(ldb), ...mul, ...add, ...set(b0)];
  const cAt = [...get(c), ...get(m), ...get(ldc), ...mul, ...add, ...set(cp)];
  const splatA = (x) => [...get(ap), ...f32load, ...splat, ...set(x), ...inc(ap, get(sak))];
  const at = (ptr) => [...get(ptr), ...get(n), ...add];
  // C[row at ptr, n:n+4] += Σ_j weights[j] · bq[j]
  const update = (ptr, weights, width) => [
    ...at(ptr), ...at(ptr), ...vload,
    ...weights.slice(0, width).flatMap((w, j) => [...get(bq[j]), ...get(w), ...vmul, ...vadd]),
    ...vstore,
  ];
  const loadB = (width) => bs.slice(0, width).flatMap((bi, j) => [...at(bi), ...vload, ...set(bq[j])]);
  const pair = loop(lt(n, nb), [...loadB(4), ...update(cp, xs, 4), ...update(cq, ys, 4), ...inc(n, i32(16))]);
  const quad = loop(lt(n, nb), [...loadB(4), ...update(cp, xs, 4), ...inc(n, i32(16))]);
  const single = loop(lt(n, nb), [...loadB(1), ...update(cp, xs, 1), ...inc(n, i32(16))]);
  const body = [
    ...get(N), ...i32(2), 0x74, ...set(nb), // nb = N·4 bytes
    ...i32(0), ...set(k),
    ...loop([...get(k), ...i32(4), ...add, ...get(K), ...gtS], [
      ...bAt,
      ...get(b0), ...get(ldb), ...add, ...set(b1),
      ...get(b1), ...get(ldb), ...add, ...set(b2),
      ...get(b2), ...get(ldb), ...add, ...set(b3),
      ...i32(0), ...set(m),
      ...loop([...get(m), ...i32(2), ...add, ...get(M), ...gtS], [
        ...aAt, ...xs.flatMap(splatA),
        ...get(m), ...i32(1), ...add, ...set(m), ...aAt, ...ys.flatMap(splatA),
        ...get(m), ...i32(1), 0x6b, ...set(m),
        ...cAt, ...get(cp), ...get(ldc), ...add, ...set(cq),
        ...i32(0), ...set(n), ...pair,
        ...inc(m, i32(2)),
      ]),
      ...loop(lt(m, M), [
        ...aAt, ...xs.flatMap(splatA), ...cAt,
        ...i32(0), ...set(n), ...quad,
        ...inc(m, i32(1)),
      ]),
      ...inc(k, i32(4)),
    ]),
    ...loop(lt(k, K), [
      ...bAt,
      ...i32(0), ...set(m),
      ...loop(lt(m, M), [...aAt, ...splatA(xs[0]), ...cAt, ...i32(0), ...set(n), ...single, ...inc(m, i32(1))]),
      ...inc(k, i32(1)),
    ]),
  ];
  return { locals: [[11, I32], [12, V128]], body };
}

// dot: params 0 a, 1 lda, 2 b, 3 ldb, 4 c, 5 ldc, 6 M, 7 N, 8 K. Four columns of C at a
// time share each load of A's row.
function dot() {
  const [a, lda, b, ldb, c, ldc, M, N, K] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [m, n, k, kb, ap, bp, cp, av] = [9, 10, 11, 12, 13, 14, 15, 16];
  const accs = [17, 18, 19, 20];
  const hsum = (acc) => [
    ...get(acc), ...lane(0), ...get(acc), ...lane(1), ...f32add,
    ...get(acc), ...lane(2), ...get(acc), ...lane(3), ...f32add, ...f32add,
  ];
  // C[m, n + j] += Σ lanes of acc j, for j < width
  const cols = (width) => [
    ...get(b), ...get(n), ...get(ldb), ...mul, ...add, ...set(bp),
    ...accs.slice(0, width).flatMap((acc) => [...f32zero, ...splat, ...set(acc)]),
    ...i32(0), ...set(k),
    ...loop(lt(k, kb), [
      ...get(ap), ...get(k), ...add, ...vload, ...set(av),
      ...accs.slice(0, width).flatMap((acc, j) => [
        ...get(acc), ...get(av),
        ...get(bp), ...get(k), ...add, ...(j ? [...get(ldb), ...i32(j), ...mul, ...add] : []), ...vload,
        ...vmul, ...vadd, ...set(acc),
      ]),
      ...inc(k, i32(16)),
    ]),
    ...get(c), ...get(m), ...get(ldc), ...mul, ...add, ...get(n), ...i32(2), 0x74, ...add, ...set(cp),
    ...accs.slice(0, width).flatMap((acc, j) => [
      ...get(cp), ...get(cp), 0x2a, 2, 4 * j, ...hsum(acc), ...f32add, 0x38, 2, 4 * j,
    ]),
    ...inc(n, i32(width)),
  ];
  const body = [
    ...get(K), ...i32(2), 0x74, ...set(kb),
    ...i32(0), ...set(m),
    ...loop(lt(m, M), [
      ...get(a), ...get(m), ...get(lda), ...mul, ...add, ...set(ap),
      ...i32(0), ...set(n),
      ...loop([...get(n), ...i32(4), ...add, ...get(N), ...gtS], cols(4)),
      ...loop(lt(n, N), cols(1)),
      ...inc(m, i32(1)),
    ]),
  ];
  return { locals: [[7, I32], [5, V128]], body };
}

// Code leaving f32x4 x → code leaving s / (1 + exp(-s·x)) - (s - 1): the sigmoid (s = 1)
// or tanh (s = 2). tmp: four v128 scratch locals.
const EXP_POLY = [1.987569150e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
function activation(x, s, [v, k, r, p]) {
  return [
    ...x, ...f4(-s), ...vmul, ...f4(-87.3), ...vmax, ...f4(88.3), ...vmin, ...tee(v),
    ...f4(Math.LOG2E), ...vmul, ...vnearest, ...set(k),
    ...get(v), ...get(k), ...f4(0.693359375), ...vmul, ...vsub, ...get(k), ...f4(-2.12194440e-4), ...vmul, ...vsub,
    ...set(r),
    ...f4(EXP_POLY[0]),
    ...EXP_POLY.slice(1).flatMap((c) => [...get(r), ...vmul, ...f4(c), ...vadd]),
    ...get(r), ...vmul, ...get(r), ...vmul, ...get(r), ...vadd, ...f4(1), ...vadd, ...set(p),
    ...get(k), ...itrunc, ...i4(127), ...iadd, ...i32(23), ...ishl, ...get(p), ...vmul, // exp(-s·x)
    ...f4(1), ...vadd, ...set(p), ...f4(s), ...get(p), ...vdiv, ...(s === 2 ? [...f4(1), ...vsub] : []),
  ];
}

// Row by row (nb rows, U units, quads of units; a last partial quad is recomputed from
// U - 4, so every array written must differ from every array read). Pointers advance by
// a row each: z/a/dz rows are 4U floats (gates i, f, g, o), the others U.
function rows(ptrs, U, nb, quad) {
  const [b, q, qb, u4] = ptrs.slice(-4);
  const fields = ptrs.slice(0, -4);
  return [
    ...get(U), ...i32(2), 0x74, ...set(u4),
    ...get(U), ...i32(-4), 0x71, ...i32(2), 0x74, ...set(qb),
    ...i32(0), ...set(b),
    ...loop(lt(b, nb), [
      ...i32(0), ...set(q),
      ...loop(lt(q, qb), [...quad(get(q)), ...inc(q, i32(16))]),
      ...get(U), ...i32(3), 0x71, 0x04, 0x40, ...quad([...get(u4), ...i32(16), 0x6b]), 0x0b,
      ...fields.flatMap(([ptr, wide]) => inc(ptr, wide ? [...get(u4), ...i32(2), 0x74] : get(u4))),
      ...inc(b, i32(1)),
    ]),
  ];
}

// cell: params 0 z, 1 a, 2 cp, 3 cn, 4 tc, 5 h, 6 nb, 7 U. The LSTM step after the
// products: a = (σ(z_i), σ(z_f), tanh(z_g), σ(z_o)); cn = f·cp + i·g; tc = tanh(cn);
// h = o·tc.
function cell() {
  const [z, a, cp, cn, tc, h, nb, U] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [b, q, qb, u4] = [8, 9, 10, 11];
  const [vi, vf, vg, vo, vc] = [12, 13, 14, 15, 16];
  const tmp = [17, 18, 19, 20];
  const at = (ptr, gate, off) => [...get(ptr), ...off, ...add, ...Array(gate).fill([...get(u4), ...add]).flat()];
  const quad = (off) => [
    ...[vi, vf, vg, vo].flatMap((vx, gate) => [
      ...at(a, gate, off),
      ...activation([...at(z, gate, off), ...vload], gate === 2 ? 2 : 1, tmp), ...tee(vx),
      ...vstore,
    ]),
    ...at(cn, 0, off), ...get(vf), ...at(cp, 0, off), ...vload, ...vmul, ...get(vi), ...get(vg), ...vmul, ...vadd,
    ...tee(vc), ...vstore,
    ...at(h, 0, off), ...get(vo),
    ...at(tc, 0, off), ...activation(get(vc), 2, tmp), ...tee(vc), ...vstore,
    ...get(vc), ...vmul, ...vstore,
  ];
  const body = rows([[z, true], [a, true], [cp], [cn], [tc], [h], b, q, qb, u4], U, nb, quad);
  return { locals: [[4, I32], [9, V128]], body };
}

// bcell: params 0 a, 1 tc, 2 cp, 3 dh, 4 dci, 5 dco, 6 dz, 7 nb, 8 U. The step backwards:
// dc = dci + dh·o·(1 - tc²); dz = (dc·g·i(1-i), dc·cp·f(1-f), dc·i·(1-g²), dh·tc·o(1-o));
// dco = dc·f.
function bcell() {
  const [a, tc, cp, dh, dci, dco, dz, nb, U] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [b, q, qb, u4] = [9, 10, 11, 12];
  const [vi, vf, vg, vo, vt, vh, vc] = [13, 14, 15, 16, 17, 18, 19];
  const at = (ptr, gate, off) => [...get(ptr), ...off, ...add, ...Array(gate).fill([...get(u4), ...add]).flat()];
  const oneMinus = (x) => [...f4(1), ...x, ...vsub];
  const quad = (off) => [
    ...[vi, vf, vg, vo].flatMap((vx, gate) => [...at(a, gate, off), ...vload, ...set(vx)]),
    ...at(tc, 0, off), ...vload, ...set(vt),
    ...at(dh, 0, off), ...vload, ...set(vh),
    ...at(dci, 0, off), ...vload,
    ...get(vh), ...get(vo), ...vmul, ...oneMinus([...get(vt), ...get(vt), ...vmul]), ...vmul, ...vadd, ...set(vc),
    ...at(dz, 0, off), ...get(vc), ...get(vg), ...vmul, ...get(vi), ...vmul, ...oneMinus(get(vi)), ...vmul, ...vstore,
    ...at(dz, 1, off), ...get(vc), ...at(cp, 0, off), ...vload, ...vmul, ...get(vf), ...vmul,
    ...oneMinus(get(vf)), ...vmul, ...vstore,
    ...at(dz, 2, off), ...get(vc), ...get(vi), ...vmul, ...oneMinus([...get(vg), ...get(vg), ...vmul]), ...vmul,
    ...vstore,
    ...at(dz, 3, off), ...get(vh), ...get(vt), ...vmul, ...get(vo), ...vmul, ...oneMinus(get(vo)), ...vmul, ...vstore,
    ...at(dco, 0, off), ...get(vc), ...get(vf), ...vmul, ...vstore,
  ];
  const body = rows([[a, true], [tc], [cp], [dh], [dci], [dco], [dz, true], b, q, qb, u4], U, nb, quad);
  return { locals: [[4, I32], [7, V128]], body };
}

export function gemmModule() {
  const fns = [
    { name: "axpy", params: 10, ...axpy() },
    { name: "dot", params: 9, ...dot() },
    { name: "cell", params: 8, ...cell() },
    { name: "bcell", params: 9, ...bcell() },
  ];
  const types = fns.map((f) => [0x60, ...vec(Array(f.params).fill([I32])), 0]);
  const code = fns.map((f) => {
    const bytes = [...vec(f.locals.map(([count, t]) => [...uleb(count), t])), ...f.body, 0x0b];
    return [...uleb(bytes.length), ...bytes];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec(types)),
    ...section(2, vec([[...name("env"), ...name("mem"), 0x02, 0x00, 1]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(code)),
  ]);
}
