// The arithmetic both compiled LSTM sources share (lstm_native.cpp: the layer-by-layer
// time loop; lstm_step.cpp: the fused training step of a one-layer model): a
// register-blocked small matmul, float tanh/sigmoid, Adam's element-wise update, and
// the argument checks. Header-only so each source inlines it into its hot loops.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>

namespace coincast_lstm {

// Why not at::bmm_out for the recurrence's small products ([32, 50] @ [50, 200] and
// [32, 200] @ [200, 56] for the paper model): at these sizes MKL spends more time in
// dispatch, packing and per-call setup than in arithmetic (measured: ~13 us per forward
// product here against ~18 us through ATen, and 60 such calls make a training step).
// R rows of A times 24 columns of B stay in 3R vector registers across the whole inner
// loop (4 x 24 fills AVX2's 16 registers: measured 90 GFLOP/s forward and 76 backward
// on this machine's EPYC, against 79 and 59 with 4 x 16 blocks); GCC's vector extension
// keeps it portable (SSE pairs without AVX). Column tails below 8 run a scalar loop:
// callers pad those (backward).
typedef float v8f __attribute__((vector_size(32)));
inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }

// R rows of C = A @ B in 16- and 8-column blocks (see small_gemm).
template <int R>
inline void gemm_rows16(const float* a0, int64_t lda, const float* B, int64_t ldb, float* c0,
                      int64_t ldc, int64_t inner, int64_t cols) {
  int64_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    v8f acc[R][2] = {};
    for (int64_t k = 0; k < inner; ++k) {
      const v8f b0 = load8(B + k * ldb + c), b1 = load8(B + k * ldb + c + 8);
      for (int i = 0; i < R; ++i) {
        const float a = a0[i * lda + k];
        acc[i][0] += a * b0;
        acc[i][1] += a * b1;
      }
    }
    for (int i = 0; i < R; ++i) {
      store8(c0 + i * ldc + c, acc[i][0]);
      store8(c0 + i * ldc + c + 8, acc[i][1]);
    }
  }
  for (; c + 8 <= cols; c += 8) {
    v8f acc[R] = {};
    for (int64_t k = 0; k < inner; ++k) {
      const v8f b0 = load8(B + k * ldb + c);
      for (int i = 0; i < R; ++i) acc[i] += a0[i * lda + k] * b0;
    }
    for (int i = 0; i < R; ++i) store8(c0 + i * ldc + c, acc[i]);
  }
  for (; c < cols; ++c)
    for (int i = 0; i < R; ++i) {
      float s = 0.0f;
      for (int64_t k = 0; k < inner; ++k) s += a0[i * lda + k] * B[k * ldb + c];
      c0[i * ldc + c] = s;
    }
}

// R rows of C = A @ B (see small_gemm): 24-column blocks, then the rest. Kept apart
// from gemm_rows16: in one function GCC's register allocation lost the 24-column
// gain on the backward shape (measured 12.1 us against 9.5 us for 32 x 200 x 56).
template <int R>
inline void gemm_rows(const float* a0, int64_t lda, const float* B, int64_t ldb, float* c0,
                      int64_t ldc, int64_t inner, int64_t cols) {
  int64_t c = 0;
  for (; c + 24 <= cols; c += 24) {  // 4 x 24: 12 accumulators + 3 of B + 1 of A = 16
    v8f acc[R][3] = {};
    for (int64_t k = 0; k < inner; ++k) {
      const float* bk = B + k * ldb + c;
      const v8f b0 = load8(bk), b1 = load8(bk + 8), b2 = load8(bk + 16);
      for (int i = 0; i < R; ++i) {
        const float a = a0[i * lda + k];
        acc[i][0] += a * b0;
        acc[i][1] += a * b1;
        acc[i][2] += a * b2;
      }
    }
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < 3; ++j) store8(c0 + i * ldc + c + 8 * j, acc[i][j]);
  }
  gemm_rows16<R>(a0, lda, B + c, ldb, c0 + c, ldc, inner, cols - c);
}

// C[rows, cols] = A[rows, inner] @ B[inner, cols], row-major, leading dimensions given.
// Rows go four at a time; the last one to three rows (a short final batch) stay
// vectorised too.
inline void small_gemm(const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                       int64_t ldc, int64_t rows, int64_t inner, int64_t cols) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    gemm_rows<4>(A + r * lda, lda, B, ldb, C + r * ldc, ldc, inner, cols);
  switch (rows - r) {
    case 3: gemm_rows<3>(A + r * lda, lda, B, ldb, C + r * ldc, ldc, inner, cols); break;
    case 2: gemm_rows<2>(A + r * lda, lda, B, ldb, C + r * ldc, ldc, inner, cols); break;
    case 1: gemm_rows<1>(A + r * lda, lda, B, ldb, C + r * ldc, ldc, inner, cols); break;
    default: break;
  }
}

// tanh as a rational function, with the single-precision coefficients of Eigen's float
// tanh (also used by XLA and onnxruntime): a few ulp from tanhf on [-7.9, 7.9], where
// tanh rounds to +-1 in float. It is plain arithmetic, so GCC vectorises the gate loops
// without -ffast-math, keeps NaN (a diverged model must show as NaN), and it measured
// faster than glibc's vectorised expf- or tanhf-based forms.
inline float tanh_(float x) {
  constexpr float kClamp = 7.90531110763549805f;
  x = x > kClamp ? kClamp : (x < -kClamp ? -kClamp : x);  // NaN passes through
  const float x2 = x * x;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 - 8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return x * p / q;
}

inline float sigmoid(float z) { return 0.5f + 0.5f * tanh_(0.5f * z); }

// Adam's constants in float, computed in double first (1 - beta2 rounded once, as
// torch.optim.Adam's Python arithmetic does).
struct AdamConsts {
  float w1, b2, w2, eps;
  AdamConsts(double beta1, double beta2, double e)
      : w1(static_cast<float>(1.0 - beta1)),
        b2(static_cast<float>(beta2)),
        w2(static_cast<float>(1.0 - beta2)),
        eps(static_cast<float>(e)) {}
};

// One model's Adam update over n parameters (the arithmetic of StackedAdam.step):
//   m += (1 - b1) (g - m);  v = b2 v + (1 - b2) g^2;  p -= step m / (sqrt(v) / bc2 + eps)
inline void adam_update(float* p, const float* g, float* m, float* v, int64_t n, float step,
                        float bc2_sqrt, const AdamConsts& k) {
#pragma GCC ivdep
  for (int64_t i = 0; i < n; ++i) {
    const float mk = m[i] + k.w1 * (g[i] - m[i]);
    const float vk = v[i] * k.b2 + k.w2 * (g[i] * g[i]);
    m[i] = mk;
    v[i] = vk;
    p[i] -= mk / (std::sqrt(vk) / bc2_sqrt + k.eps) * step;
  }
}

struct Arg {
  const at::Tensor& t;
  int64_t dim;
  const char* name;
};

// Every buffer is read through raw pointers: float32, the expected rank, contiguous.
inline void check(std::initializer_list<Arg> args) {
  for (const Arg& a : args) {
    TORCH_CHECK(a.t.scalar_type() == at::kFloat, a.name, " must be float32");
    TORCH_CHECK(a.t.dim() == a.dim, a.name, " must have ", a.dim, " dimensions");
    TORCH_CHECK(a.t.is_contiguous(), a.name, " must be contiguous");
  }
}

}  // namespace coincast_lstm
