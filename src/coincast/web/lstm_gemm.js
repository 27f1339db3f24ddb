// The three matrix products an LSTM training step needs, on row-major float32 matrices
// held in one arena. Each accumulates (C += …), so callers set C first (to the bias, or
// to zero). Offsets are in floats from the start of the typed array passed.
//   nn: C[M,N] += A[M,K] · B[K,N]        (A rows lda apart)
//   nt: C[M,N] += A[M,K] · B[N,K]ᵀ       (A rows lda apart)
//   tn: C[M,N] += A[R,M]ᵀ · B[R,N]       (A rows lda apart)
// and the activations: act(X, xo, Y, yo, n, s): Y = s·σ(s·X) - (s - 1), the sigmoid for
// s = 1 and tanh for s = 2 (X and Y distinct arrays).
// The JS loops are unrolled by four so each C element is loaded and stored once per four
// multiply-adds; V8 keeps the sums in double precision.

import { gemmModule } from "./lstm_wasm.js";

function jsAct(X, xo, Y, yo, n, s) {
  for (let i = 0; i < n; i += 1) Y[yo + i] = s / (1 + Math.exp(-s * X[xo + i])) - (s - 1);
}

export function jsGemm() {
  return {
    kind: "js",
    arena: (n) => new Float32Array(n),
    act: jsAct,
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

// The same three products through lstm_wasm.js's SIMD module, or null where the engine
// has no WebAssembly SIMD (the JS loops then serve).
export function wasmGemm() {
  if (typeof WebAssembly === "undefined") return null;
  const bytes = gemmModule();
  if (!WebAssembly.validate(bytes)) return null;
  let fns = null;
  let memory = null;
  const at = (arr, off) => arr.byteOffset + 4 * off;
  return {
    kind: "wasm-simd",
    // One arena per model: sized once, never grown (growing would detach every view).
    arena(n) {
      memory = new WebAssembly.Memory({ initial: Math.ceil((4 * n + 64) / 65536) });
      const module = new WebAssembly.Module(bytes);
      fns = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
      return new Float32Array(memory.buffer, 0, n);
    },
    nn(A, ao, lda, B, bo, C, co, M, K, N) {
      fns.axpy(at(A, ao), 4 * lda, 4, at(B, bo), 4 * N, at(C, co), 4 * N, M, K, N);
    },
    nt(A, ao, lda, B, bo, C, co, M, K, N) {
      fns.dot(at(A, ao), 4 * lda, at(B, bo), 4 * K, at(C, co), 4 * N, M, N, K);
    },
    act(X, xo, Y, yo, n, s) {
      if (n < 4) jsAct(X, xo, Y, yo, n, s);
      else fns.act(at(X, xo), at(Y, yo), n, s);
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
