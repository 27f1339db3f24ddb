// The three matrix products an LSTM training step needs, on row-major float32 matrices
// held in one arena. Each accumulates (C += …), so callers set C first (to the bias, or
// to zero). Offsets are in floats from the start of the typed array passed.
//   nn: C[M,N] += A[M,K] · B[K,N]        (A rows lda apart)
//   nt: C[M,N] += A[M,K] · B[N,K]ᵀ       (A rows lda apart)
//   tn: C[M,N] += A[R,M]ᵀ · B[R,N]       (A rows lda apart)
// and the element-wise rest of an LSTM step, forward (cell) and backward (bcell), as
// lstm_wasm.js describes them; every array written differs from every array read.
// The JS loops are unrolled by four so each C element is loaded and stored once per four
// multiply-adds; V8 keeps the sums in double precision.

import { gemmModule } from "./lstm_wasm.js";

const sigmoid = (z) => 1 / (1 + Math.exp(-z));
const tanh = (z) => 2 / (1 + Math.exp(-2 * z)) - 1; // one exp: V8's Math.tanh is slower

function jsCell(z, zo, a, ao, cs, cpo, cno, tc, tco, hs, ho, nb, U) {
  for (let b = 0; b < nb; b += 1) {
    const zr = zo + 4 * U * b;
    const ar = ao + 4 * U * b;
    for (let u = 0; u < U; u += 1) {
      const ig = sigmoid(z[zr + u]);
      const fg = sigmoid(z[zr + U + u]);
      const gg = tanh(z[zr + 2 * U + u]);
      const og = sigmoid(z[zr + 3 * U + u]);
      a[ar + u] = ig;
      a[ar + U + u] = fg;
      a[ar + 2 * U + u] = gg;
      a[ar + 3 * U + u] = og;
      const k = b * U + u;
      const c = fg * cs[cpo + k] + ig * gg;
      cs[cno + k] = c;
      const th = tanh(c);
      tc[tco + k] = th;
      hs[ho + k] = og * th;
    }
  }
}

function jsBcell(a, ao, tc, tco, cs, cpo, dh, dci, dco, dz, dzo, nb, U) {
  for (let b = 0; b < nb; b += 1) {
    const ar = ao + 4 * U * b;
    const zr = dzo + 4 * U * b;
    for (let u = 0; u < U; u += 1) {
      const k = b * U + u;
      const ig = a[ar + u];
      const fg = a[ar + U + u];
      const gg = a[ar + 2 * U + u];
      const og = a[ar + 3 * U + u];
      const th = tc[tco + k];
      const dhk = dh[k];
      const dc = dci[k] + dhk * og * (1 - th * th);
      dz[zr + u] = dc * gg * ig * (1 - ig);
      dz[zr + U + u] = dc * cs[cpo + k] * fg * (1 - fg);
      dz[zr + 2 * U + u] = dc * ig * (1 - gg * gg);
      dz[zr + 3 * U + u] = dhk * th * og * (1 - og);
      dco[k] = dc * fg;
    }
  }
}

export function jsGemm() {
  return {
    kind: "js",
    arena: (n) => new Float32Array(n),
    cell: jsCell,
    bcell: jsBcell,
    nn(A, ao, lda, B, bo, C, co, M, K, N) {
      for (let m = 0; m < M; m += 1) {
        const a = ao + m * lda;
        const c = co + m * N;
        let k = 0;
        for (; k + 4 <= K; k += 4) {
          const a0 = A[a + k];
          const a1 = A[a + k + 1];
          const a2 = A[a + k + 2];
          const a3 = A[a + k + 3];
          const b0 = bo + k * N;
          const b1 = b0 + N;
          const b2 = b1 + N;
          const b3 = b2 + N;
          for (let n = 0; n < N; n += 1) {
            C[c + n] += a0 * B[b0 + n] + a1 * B[b1 + n] + a2 * B[b2 + n] + a3 * B[b3 + n];
          }
        }
        for (; k < K; k += 1) {
          const ak = A[a + k];
          const b0 = bo + k * N;
          for (let n = 0; n < N; n += 1) C[c + n] += ak * B[b0 + n];
        }
      }
    },
    nt(A, ao, lda, B, bo, C, co, M, K, N) {
      for (let m = 0; m < M; m += 1) {
        const a = ao + m * lda;
        const c = co + m * N;
        for (let n = 0; n < N; n += 1) {
          const b = bo + n * K;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          let k = 0;
          for (; k + 4 <= K; k += 4) {
            s0 += A[a + k] * B[b + k];
            s1 += A[a + k + 1] * B[b + k + 1];
            s2 += A[a + k + 2] * B[b + k + 2];
            s3 += A[a + k + 3] * B[b + k + 3];
          }
          for (; k < K; k += 1) s0 += A[a + k] * B[b + k];
          C[c + n] += s0 + s1 + s2 + s3;
        }
      }
    },
    tn(A, ao, lda, B, bo, C, co, R, M, N) {
      let r = 0;
      for (; r + 4 <= R; r += 4) {
        const a0 = ao + r * lda;
        const b0 = bo + r * N;
        for (let m = 0; m < M; m += 1) {
          const x0 = A[a0 + m];
          const x1 = A[a0 + lda + m];
          const x2 = A[a0 + 2 * lda + m];
          const x3 = A[a0 + 3 * lda + m];
          const c = co + m * N;
          for (let n = 0; n < N; n += 1) {
            C[c + n] += x0 * B[b0 + n] + x1 * B[b0 + N + n] + x2 * B[b0 + 2 * N + n] + x3 * B[b0 + 3 * N + n];
          }
        }
      }
      for (; r < R; r += 1) {
        const a0 = ao + r * lda;
        const b0 = bo + r * N;
        for (let m = 0; m < M; m += 1) {
          const x0 = A[a0 + m];
          const c = co + m * N;
          for (let n = 0; n < N; n += 1) C[c + n] += x0 * B[b0 + n];
        }
      }
    },
  };
}

let compiled = null;

// The same operations through lstm_wasm.js's SIMD module, or null where the engine has
// no WebAssembly SIMD (the JS loops then serve).
export function wasmGemm() {
  if (typeof WebAssembly === "undefined") return null;
  let module;
  try {
    // Compiled once per page (7 kB; synchronous compiling is allowed at this size in
    // current engines; one that refuses falls back to the JS loops).
    module = compiled || (compiled = new WebAssembly.Module(gemmModule()));
  } catch {
    return null;
  }
  let fns = null;
  let memory = null;
  const at = (arr, off) => arr.byteOffset + 4 * off;
  return {
    kind: "wasm-simd",
    // One arena per model: sized once, never grown (growing would detach every view).
    arena(n) {
      memory = new WebAssembly.Memory({ initial: Math.ceil((4 * n + 64) / 65536) });
      fns = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
      return new Float32Array(memory.buffer, 0, n);
    },
    nn(A, ao, lda, B, bo, C, co, M, K, N) {
      fns.axpy(at(A, ao), 4 * lda, 4, at(B, bo), 4 * N, at(C, co), 4 * N, M, K, N);
    },
    nt(A, ao, lda, B, bo, C, co, M, K, N) {
      fns.dot(at(A, ao), 4 * lda, at(B, bo), 4 * K, at(C, co), 4 * N, M, N, K);
    },
    cell(z, zo, a, ao, cs, cpo, cno, tc, tco, hs, ho, nb, U) {
      if (U < 4) jsCell(z, zo, a, ao, cs, cpo, cno, tc, tco, hs, ho, nb, U);
      else fns.cell(at(z, zo), at(a, ao), at(cs, cpo), at(cs, cno), at(tc, tco), at(hs, ho), nb, U);
    },
    bcell(a, ao, tc, tco, cs, cpo, dh, dci, dco, dz, dzo, nb, U) {
      if (U < 4) jsBcell(a, ao, tc, tco, cs, cpo, dh, dci, dco, dz, dzo, nb, U);
      else fns.bcell(at(a, ao), at(tc, tco), at(cs, cpo), at(dh, 0), at(dci, 0), at(dco, 0), at(dz, dzo), nb, U);
    },
    tn(A, ao, lda, B, bo, C, co, R, M, N) {
      fns.axpy(at(A, ao), 4, 4 * lda, at(B, bo), 4 * N, at(C, co), 4 * N, M, R, N);
    },
  };
}

// kind: "wasm" | "js" | undefined (the fastest this engine runs).
export function createGemm(kind) {
  if (kind === "js") return jsGemm();
  const wasm = wasmGemm();
  if (!wasm && kind === "wasm") throw new Error("this browser has no WebAssembly SIMD");
  return wasm || jsGemm();
}
