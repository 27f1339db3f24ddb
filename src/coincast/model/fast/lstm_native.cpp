// The LSTM time loop of coincast's kernel (coincast/model/kernels.py) in C++.
//
// Why: at the paper model's size (50 units, batch 32) a time step is one small matmul
// plus element-wise work on ~50k values per model group. From Python that is eight
// dispatches per step, and PyTorch's CPU sigmoid/tanh run at about one value per
// nanosecond. Here each step is one register-blocked small GEMM (small_gemm in lstm_math.h: at
// these sizes MKL through ATen spends more in per-call setup than in arithmetic) and a
// single fused, vectorised pass over the gates; the derivative factors the backward pass
// needs are written in the same pass while the values are in cache. Adam is one fused
// pass too (adam_step). Loaded by coincast/model/fast/native.py, which falls back to the
// Python loop without a compiler.
//
// Measured (1 thread, 32 paper models, one training step, before small_gemm): 100 ms with
// the Python loop, 50 ms here, against 21 ms for the step's FLOPs at the large-matmul
// limit. Where one model's step goes now: benchmarks/bench_train.py prints the profile.
//
// Layouts are those of kernels.py (model-major, float32, contiguous), with the internal
// gate order o, i, f, g, except that here the g block holds g itself and cs holds c.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "lstm_math.h"

namespace {

using namespace coincast_lstm;

// Forward over all time steps.
//   acts    [M, T, B, 4U]  in: input projection + bias; out: activations o, i, f, g
//   w_hh_t  [M, U, 4U]     recurrent weights, transposed (internal gate order)
//   hs, cs  [M, T+1, B, U] out: hidden and cell states; index 0 is the initial (zero) state
//   tc      [M, T, B, U]   out: tanh(c_t)
//   scratch [M, B, 4U]     one step's pre-activations
//   p_o, dc_dh [M, T, B, U], ifg [M, T, B, 3U]: derivative factors (when cache is true)
//   x [M, T, B, In], w_ih_t [M, In, 4U], bias [M, 4U]: when x is not empty, the input
//     projection is computed here (acts is then only written): for a handful of inputs
//     that is a few FMAs per gate, where a matmul with an inner size of 2 runs at 2 % of
//     the machine's speed.
void lstm_forward(const at::Tensor& acts, const at::Tensor& w_hh_t, const at::Tensor& hs,
                  const at::Tensor& cs, const at::Tensor& tc, const at::Tensor& scratch,
                  const at::Tensor& p_o, const at::Tensor& ifg, const at::Tensor& dc_dh,
                  const at::Tensor& x, const at::Tensor& w_ih_t, const at::Tensor& bias,
                  bool cache) {
  check({{acts, 4, "acts"}, {w_hh_t, 3, "w_hh_t"}, {hs, 4, "hs"}, {cs, 4, "cs"},
         {tc, 4, "tc"}, {scratch, 3, "scratch"}});
  const int64_t m = acts.size(0), t_len = acts.size(1), b = acts.size(2), u4 = acts.size(3);
  const int64_t u = u4 / 4;
  TORCH_CHECK(u4 == 4 * u && w_hh_t.size(1) == u && w_hh_t.size(2) == u4, "shape mismatch");
  TORCH_CHECK(hs.size(1) == t_len + 1 && cs.size(1) == t_len + 1, "hs/cs need T+1 steps");
  if (cache) {
    check({{p_o, 4, "p_o"}, {ifg, 4, "ifg"}, {dc_dh, 4, "dc_dh"}});
    TORCH_CHECK(p_o.size(1) == t_len, "cache buffers need T steps");
  }
  float* a_ptr = acts.data_ptr<float>();
  float* h_ptr = hs.data_ptr<float>();
  float* c_ptr = cs.data_ptr<float>();
  float* tc_ptr = tc.data_ptr<float>();
  const float* z_ptr = scratch.data_ptr<float>();
  float* z_out = scratch.data_ptr<float>();
  const float* whh_ptr = w_hh_t.data_ptr<float>();
  float* po_ptr = cache ? p_o.data_ptr<float>() : nullptr;
  float* ifg_ptr = cache ? ifg.data_ptr<float>() : nullptr;
  float* dcdh_ptr = cache ? dc_dh.data_ptr<float>() : nullptr;
  const bool project = x.numel() > 0;
  const int64_t n_in = project ? x.size(3) : 0;
  if (project) {
    check({{x, 4, "x"}, {w_ih_t, 3, "w_ih_t"}, {bias, 2, "bias"}});
    TORCH_CHECK(w_ih_t.size(1) == n_in && w_ih_t.size(2) == u4, "w_ih_t shape mismatch");
  }
  const float* x_ptr = project ? x.data_ptr<float>() : nullptr;
  const float* wih_ptr = project ? w_ih_t.data_ptr<float>() : nullptr;
  const float* bias_ptr = project ? bias.data_ptr<float>() : nullptr;
  const int64_t rows = m * b;
  for (int64_t t = 0; t < t_len; ++t) {
    // scratch = hs[:, t] @ w_hh_t; the input projection in acts[:, t] is added below
    // (baddbmm would first copy it into the output: a fifth of the step's time).
    at::parallel_for(0, m, 1, [&](int64_t m0, int64_t m1) {
      for (int64_t mi = m0; mi < m1; ++mi) {
        small_gemm(h_ptr + (mi * (t_len + 1) + t) * b * u, u, whh_ptr + mi * u * u4, u4,
                   z_out + mi * b * u4, u4, b, u, u4);
      }
    });
    at::parallel_for(0, rows, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t mi = r / b, bi = r % b;
        const float* z = z_ptr + r * u4;
        float* a = a_ptr + ((mi * t_len + t) * b + bi) * u4;
        const int64_t state = (mi * (t_len + 1) + t) * b + bi;  // [m, t, b] in hs/cs
        const float* c_prev = c_ptr + state * u;
        float* c = c_ptr + (state + b) * u;
        float* h = h_ptr + (state + b) * u;
        float* tcr = tc_ptr + ((mi * t_len + t) * b + bi) * u;
        if (project) {
          const float* xr = x_ptr + ((mi * t_len + t) * b + bi) * n_in;
          const float* bm = bias_ptr + mi * u4;
#pragma GCC ivdep
          for (int64_t k = 0; k < u4; ++k) a[k] = bm[k];
          for (int64_t j = 0; j < n_in; ++j) {
            const float xj = xr[j];
            const float* w = wih_ptr + (mi * n_in + j) * u4;
#pragma GCC ivdep
            for (int64_t k = 0; k < u4; ++k) a[k] += xj * w[k];
          }
        }
#pragma GCC ivdep
        for (int64_t k = 0; k < 3 * u; ++k) a[k] = sigmoid(a[k] + z[k]);
#pragma GCC ivdep
        for (int64_t k = 0; k < u; ++k) a[3 * u + k] = tanh_(a[3 * u + k] + z[3 * u + k]);
        const float *o = a, *i = a + u, *f = a + 2 * u, *g = a + 3 * u;
#pragma GCC ivdep
        for (int64_t k = 0; k < u; ++k) {
          const float ck = f[k] * c_prev[k] + i[k] * g[k];
          const float tk = tanh_(ck);
          c[k] = ck;
          tcr[k] = tk;
          h[k] = o[k] * tk;
        }
        if (cache) {
          const int64_t at_t = ((mi * t_len + t) * b + bi) * u;
          float* po = po_ptr + at_t;
          float* dcdh = dcdh_ptr + at_t;
          float* q = ifg_ptr + 3 * at_t;  // [3U]: d c / d pre_(i, f, g)
#pragma GCC ivdep
          for (int64_t k = 0; k < u; ++k) {
            po[k] = tcr[k] * o[k] * (1.0f - o[k]);
            dcdh[k] = o[k] * (1.0f - tcr[k] * tcr[k]);
            q[k] = g[k] * i[k] * (1.0f - i[k]);
            q[u + k] = c_prev[k] * f[k] * (1.0f - f[k]);
            q[2 * u + k] = i[k] * (1.0f - g[k] * g[k]);
          }
        }
      }
    });
  }
}

// Backpropagation through time after lstm_forward(cache=true).
//   acts [M, T, B, 4U] activations (for f); p_o, ifg, dc_dh as written by the forward pass
//   w_hh [M, 4U, U]; dh, dc [M, B, U] (in: dh on the last state, dc zero; used as state)
//   dh_seq [M, T, B, U] gradient on every step's output, or an empty tensor
//   dg [M, T, B, 4U] out: gradients of the pre-activations
//   x [M, T, B, In] or empty; when given, d_wih_t [M, In, 4U] and d_bias [M, 4U] are
//     accumulated here (same reason as the forward projection); they must start at zero.
void lstm_backward(const at::Tensor& acts, const at::Tensor& p_o, const at::Tensor& ifg,
                   const at::Tensor& dc_dh, const at::Tensor& w_hh, const at::Tensor& dh,
                   const at::Tensor& dc, const at::Tensor& dh_seq, const at::Tensor& dg,
                   const at::Tensor& x, const at::Tensor& d_wih_t, const at::Tensor& d_bias) {
  check({{acts, 4, "acts"}, {p_o, 4, "p_o"}, {ifg, 4, "ifg"}, {dc_dh, 4, "dc_dh"},
         {w_hh, 3, "w_hh"}, {dh, 3, "dh"}, {dc, 3, "dc"}, {dg, 4, "dg"}});
  const bool has_seq = dh_seq.numel() > 0;
  if (has_seq) check({{dh_seq, 4, "dh_seq"}});
  const int64_t m = acts.size(0), t_len = acts.size(1), b = acts.size(2), u4 = acts.size(3);
  const int64_t u = u4 / 4;
  const float* a_ptr = acts.data_ptr<float>();
  const float* po_ptr = p_o.data_ptr<float>();
  const float* ifg_ptr = ifg.data_ptr<float>();
  const float* dcdh_ptr = dc_dh.data_ptr<float>();
  const float* seq_ptr = has_seq ? dh_seq.data_ptr<float>() : nullptr;
  float* dh_ptr = dh.data_ptr<float>();
  float* dc_ptr = dc.data_ptr<float>();
  float* dg_ptr = dg.data_ptr<float>();
  const bool project = x.numel() > 0;
  const int64_t n_in = project ? x.size(3) : 0;
  if (project) {
    check({{x, 4, "x"}, {d_wih_t, 3, "d_wih_t"}, {d_bias, 2, "d_bias"}});
  }
  const float* x_ptr = project ? x.data_ptr<float>() : nullptr;
  float* dwih_ptr = project ? d_wih_t.data_ptr<float>() : nullptr;
  float* dbias_ptr = project ? d_bias.data_ptr<float>() : nullptr;
  // w_hh with its columns padded to a multiple of 8 (U = 50 → 56), so every column of
  // the recurrent product runs in vector registers; the padding columns are zero.
  TORCH_CHECK(w_hh.size(1) == u4 && w_hh.size(2) == u, "w_hh shape mismatch");
  const int64_t up = (u + 7) / 8 * 8;
  std::vector<float> w_pad(m * u4 * up, 0.0f), dh_pad(m * b * up);
  const float* whh_ptr = w_hh.data_ptr<float>();
  for (int64_t row = 0; row < m * u4; ++row)
    std::memcpy(w_pad.data() + row * up, whh_ptr + row * u, u * sizeof(float));
  for (int64_t t = t_len - 1; t >= 0; --t) {
    // Split by model: the weight-gradient sums of one model stay in one thread.
    at::parallel_for(0, m, 1, [&](int64_t m0, int64_t m1) {
      for (int64_t r = m0 * b; r < m1 * b; ++r) {
        const int64_t mi = r / b, bi = r % b;
        const int64_t at_t = ((mi * t_len + t) * b + bi) * u;
        float* dhr = dh_ptr + r * u;
        float* dcr = dc_ptr + r * u;
        const float* f = a_ptr + 4 * at_t + 2 * u;
        const float* po = po_ptr + at_t;
        const float* dcdh = dcdh_ptr + at_t;
        const float* q = ifg_ptr + 3 * at_t;
        float* d = dg_ptr + 4 * at_t;
        if (seq_ptr != nullptr) {
          const float* s = seq_ptr + at_t;
#pragma GCC ivdep
          for (int64_t k = 0; k < u; ++k) dhr[k] += s[k];
        }
#pragma GCC ivdep
        for (int64_t k = 0; k < u; ++k) {
          const float dck = dcr[k] + dhr[k] * dcdh[k];
          d[k] = dhr[k] * po[k];
          d[u + k] = dck * q[k];
          d[2 * u + k] = dck * q[u + k];
          d[3 * u + k] = dck * q[2 * u + k];
          dcr[k] = dck * f[k];
        }
        if (project) {
          float* db = dbias_ptr + mi * u4;
#pragma GCC ivdep
          for (int64_t k = 0; k < u4; ++k) db[k] += d[k];
          const float* xr = x_ptr + ((mi * t_len + t) * b + bi) * n_in;
          for (int64_t j = 0; j < n_in; ++j) {
            const float xj = xr[j];
            float* w = dwih_ptr + (mi * n_in + j) * u4;
#pragma GCC ivdep
            for (int64_t k = 0; k < u4; ++k) w[k] += xj * d[k];
          }
        }
      }
    });
    if (t > 0) {  // dh = dg[:, t] @ w_hh, through the padded copies (see above)
      at::parallel_for(0, m, 1, [&](int64_t m0, int64_t m1) {
        for (int64_t mi = m0; mi < m1; ++mi) {
          float* out = dh_pad.data() + mi * b * up;
          small_gemm(dg_ptr + (mi * t_len + t) * b * u4, u4, w_pad.data() + mi * u4 * up, up,
                     out, up, b, u4, up);
          for (int64_t bi = 0; bi < b; ++bi)
            std::memcpy(dh_ptr + (mi * b + bi) * u, out + bi * up, u * sizeof(float));
        }
      });
    }
  }
}

// Adam for a block of models' flat parameters, one pass instead of nine tensor ops (each
// a dispatch and a full read and write of [M, P]): the same arithmetic as
// StackedAdam.step in batched_state.py (torch.optim.Adam's single-tensor path):
//   m += (1 - b1) (g - m);  v = b2 v + (1 - b2) g^2;  p -= step_size m / (sqrt(v) / bc2 + eps)
// flat, grad, exp_avg, exp_avg_sq [M, P]; step_size, bc2_sqrt [M] (per model).
void adam_step(const at::Tensor& flat, const at::Tensor& grad, const at::Tensor& exp_avg,
               const at::Tensor& exp_avg_sq, const at::Tensor& step_size,
               const at::Tensor& bc2_sqrt, double beta1, double beta2, double eps) {
  check({{flat, 2, "flat"}, {grad, 2, "grad"}, {exp_avg, 2, "exp_avg"},
         {exp_avg_sq, 2, "exp_avg_sq"}, {step_size, 1, "step_size"}, {bc2_sqrt, 1, "bc2_sqrt"}});
  const int64_t m = flat.size(0), n = flat.size(1);
  TORCH_CHECK(grad.size(0) == m && grad.size(1) == n && exp_avg.size(1) == n, "shape mismatch");
  float* p = flat.data_ptr<float>();
  const float* g = grad.data_ptr<float>();
  float* mo = exp_avg.data_ptr<float>();
  float* vo = exp_avg_sq.data_ptr<float>();
  const float* ss = step_size.data_ptr<float>();
  const float* bc = bc2_sqrt.data_ptr<float>();
  const AdamConsts k(beta1, beta2, eps);
  at::parallel_for(0, m, 1, [&](int64_t m0, int64_t m1) {
    for (int64_t i = m0; i < m1; ++i)
      adam_update(p + i * n, g + i * n, mo + i * n, vo + i * n, n, ss[i], bc[i], k);
  });
}

}  // namespace

TORCH_LIBRARY(coincast_lstm, lib) {
  lib.def(
      "forward(Tensor(a!) acts, Tensor w_hh_t, Tensor(b!) hs, Tensor(c!) cs, Tensor(d!) tc, "
      "Tensor(e!) scratch, Tensor(f!) p_o, Tensor(g!) ifg, Tensor(h!) dc_dh, Tensor x, "
      "Tensor w_ih_t, Tensor bias, bool cache) -> ()");
  lib.def(
      "backward(Tensor acts, Tensor p_o, Tensor ifg, Tensor dc_dh, Tensor w_hh, Tensor(a!) dh, "
      "Tensor(b!) dc, Tensor dh_seq, Tensor(c!) dg, Tensor x, Tensor(d!) d_wih_t, "
      "Tensor(e!) d_bias) -> ()");
  lib.def(
      "adam(Tensor(a!) flat, Tensor grad, Tensor(b!) exp_avg, Tensor(c!) exp_avg_sq, "
      "Tensor step_size, Tensor bc2_sqrt, float beta1, float beta2, float eps) -> ()");
}

TORCH_LIBRARY_IMPL(coincast_lstm, CPU, lib) {
  lib.impl("forward", &lstm_forward);
  lib.impl("backward", &lstm_backward);
  lib.impl("adam", &adam_step);
}
