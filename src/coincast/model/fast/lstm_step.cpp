// One whole training step of M one-layer models, LSTM(U) -> Dense(1) (the paper
// preset's shape), in one call: forward through every time step, the head and the
// weighted squared error, backpropagation through time, the weight gradients, and Adam.
//
// Why fused: the layer-by-layer loop (lstm_native.cpp, driven from Python by
// coincast/model/fast/kernels.py) is fast per step, but a training step of one paper
// model still spent ~0.3 ms of its ~1.5 ms in Python, dispatch and the head's small
// tensor ops, and two threads had to meet at every time step (120 times a step), so a
// second thread only slowed it down. Here the rows of a batch are independent through
// the whole time loop: each thread takes a range of rows (or whole models) for the
// entire step and the threads meet once, to sum their gradients in a fixed order.
//
// Same arithmetic as coincast.model.fast.stacked_step.loss_and_grads followed by
// StackedAdam.step (tests/model/test_fast_paths.py checks them against each other).
// Gradients follow the FlatParams layout of one layer: w_ih [4U, In], w_hh [4U, U],
// b_ih [4U], b_hh [4U], head_w [U], head_b [1], gates in the internal order o, i, f, g.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "lstm_math.h"

namespace {

using namespace coincast_lstm;

// What one (row, time step) keeps for the backward pass, in `work` [threads, B, T, kSlot * U]
// (one model's rows per thread at a time: models go through it one after another, so
// the buffer stays in the caches; a buffer per model measured 1.43 ms per model-step
// for 16 models against 1.2 ms for one):
// the step's input state h_{t-1}, the forget gate, and the derivative factors
// (p_o = tanh(c) o (1 - o); ifg = d c / d pre_(i, f, g); dc_dh = o (1 - tanh(c)^2)),
// then the pre-activation gradients. A row's steps are adjacent, so one row range's
// h_{t-1} and gradients over all steps are two strided matrices: d w_hh is one GEMM.
constexpr int64_t kH = 0, kF = 1, kPo = 2, kIfg = 3, kDcDh = 6, kDg = 7, kSlot = 11;

struct Dims {
  int64_t m, t, b, n_in, u, u4, up, p, s;  // s: floats per slot
  // Offsets of the parameters in a model's flat row.
  int64_t w_ih() const { return 0; }
  int64_t w_hh() const { return u4 * n_in; }
  int64_t b_ih() const { return w_hh() + u4 * u; }
  int64_t b_hh() const { return b_ih() + u4; }
  int64_t head_w() const { return b_hh() + u4; }
  int64_t head_b() const { return head_w() + u; }
};

// A model's weights in the layouts the loops read: w_hh transposed for the forward
// product, w_hh with its columns padded to a multiple of 8 for the backward one, w_ih
// transposed (inputs are projected in the gate loop: a matmul with an inner size of 2
// runs at 2 % of the machine's speed), and b_ih + b_hh.
struct Weights {
  std::vector<float> whh_t, w_pad, wih_t, bias;
  void fill(const float* row, const Dims& d) {
    whh_t.assign(d.u * d.u4, 0.0f);
    w_pad.assign(d.u4 * d.up, 0.0f);
    wih_t.assign(d.n_in * d.u4, 0.0f);
    bias.assign(d.u4, 0.0f);
    const float* w_hh = row + d.w_hh();
    const float* w_ih = row + d.w_ih();
    for (int64_t g = 0; g < d.u4; ++g) {
      for (int64_t k = 0; k < d.u; ++k) {
        whh_t[k * d.u4 + g] = w_hh[g * d.u + k];
        w_pad[g * d.up + k] = w_hh[g * d.u + k];
      }
      for (int64_t j = 0; j < d.n_in; ++j) wih_t[j * d.u4 + g] = w_ih[g * d.n_in + j];
      bias[g] = row[d.b_ih() + g] + row[d.b_hh() + g];
    }
  }
};

// Forward, head, loss and backward for rows [r0, r1) of model mi, kept in the thread's
// work slot; the range's gradient goes to grad [P] (written, not accumulated) and its
// loss is returned.
float rows_step(const Dims& d, int64_t mi, int64_t r0, int64_t r1, const float* params,
                const Weights& wt, const float* x, const float* y, const float* w, float* slot_rows,
                float* grad) {
  const int64_t n = r1 - r0, u = d.u, u4 = d.u4, s = d.s, lda = d.t * s;
  std::vector<float> z(n * u4), c(n * u, 0.0f), h_last(n * u), dh(n * u), dc(n * u, 0.0f);
  std::vector<float> dh_pad(n * d.up), d_wih_t(d.n_in * u4, 0.0f), d_bias(u4, 0.0f);
  float* rows = slot_rows + r0 * lda;  // slot (i, t) at rows + i * lda + t * s
  for (int64_t i = 0; i < n; ++i) std::fill_n(rows + i * lda + kH * u, u, 0.0f);
  auto x_at = [&](int64_t t, int64_t i) { return x + ((mi * d.t + t) * d.b + r0 + i) * d.n_in; };

  for (int64_t t = 0; t < d.t; ++t) {
    small_gemm(rows + t * s + kH * u, lda, wt.whh_t.data(), u4, z.data(), u4, n, u, u4);
    for (int64_t i = 0; i < n; ++i) {
      float* a = z.data() + i * u4;
      float* slot = rows + i * lda + t * s;
      const float* xr = x_at(t, i);
#pragma GCC ivdep
      for (int64_t k = 0; k < u4; ++k) a[k] += wt.bias[k];
      for (int64_t j = 0; j < d.n_in; ++j) {
        const float xj = xr[j];
        const float* wj = wt.wih_t.data() + j * u4;
#pragma GCC ivdep
        for (int64_t k = 0; k < u4; ++k) a[k] += xj * wj[k];
      }
#pragma GCC ivdep
      for (int64_t k = 0; k < 3 * u; ++k) a[k] = sigmoid(a[k]);
#pragma GCC ivdep
      for (int64_t k = 3 * u; k < u4; ++k) a[k] = tanh_(a[k]);
      const float *o = a, *ig = a + u, *f = a + 2 * u, *g = a + 3 * u;
      float* cr = c.data() + i * u;
      float* h = t + 1 < d.t ? slot + s + kH * u : h_last.data() + i * u;
      float *po = slot + kPo * u, *q = slot + kIfg * u, *dcdh = slot + kDcDh * u;
      float* fs = slot + kF * u;
#pragma GCC ivdep
      for (int64_t k = 0; k < u; ++k) {
        const float cp = cr[k];
        const float ck = f[k] * cp + ig[k] * g[k];
        const float tk = tanh_(ck);
        cr[k] = ck;
        h[k] = o[k] * tk;
        fs[k] = f[k];
        po[k] = tk * o[k] * (1.0f - o[k]);
        dcdh[k] = o[k] * (1.0f - tk * tk);
        q[k] = g[k] * ig[k] * (1.0f - ig[k]);
        q[u + k] = cp * f[k] * (1.0f - f[k]);
        q[2 * u + k] = ig[k] * (1.0f - g[k] * g[k]);
      }
    }
  }

  // Dense(1) head and the weighted squared error (w: 1/len for real rows, 0 for padding).
  const float* head_w = params + d.head_w();
  const float head_b = params[d.head_b()];
  float* d_head_w = grad + d.head_w();
  std::fill_n(d_head_w, u, 0.0f);
  float loss = 0.0f, d_head_b = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float* h = h_last.data() + i * u;
    float pred = 0.0f;
    for (int64_t k = 0; k < u; ++k) pred += h[k] * head_w[k];
    const float err = pred + head_b - y[mi * d.b + r0 + i], wr = w[mi * d.b + r0 + i];
    loss += err * err * wr;
    const float dp = 2.0f * err * wr;
    d_head_b += dp;
#pragma GCC ivdep
    for (int64_t k = 0; k < u; ++k) {
      d_head_w[k] += dp * h[k];
      dh[i * u + k] = dp * head_w[k];
    }
  }
  grad[d.head_b()] = d_head_b;

  for (int64_t t = d.t - 1; t >= 0; --t) {
    for (int64_t i = 0; i < n; ++i) {
      const float* slot = rows + i * lda + t * s;
      const float *f = slot + kF * u, *po = slot + kPo * u, *q = slot + kIfg * u;
      const float* dcdh = slot + kDcDh * u;
      float* dg = rows + i * lda + t * s + kDg * u;
      float *dhr = dh.data() + i * u, *dcr = dc.data() + i * u;
#pragma GCC ivdep
      for (int64_t k = 0; k < u; ++k) {
        const float dck = dcr[k] + dhr[k] * dcdh[k];
        dg[k] = dhr[k] * po[k];
        dg[u + k] = dck * q[k];
        dg[2 * u + k] = dck * q[u + k];
        dg[3 * u + k] = dck * q[2 * u + k];
        dcr[k] = dck * f[k];
      }
#pragma GCC ivdep
      for (int64_t k = 0; k < u4; ++k) d_bias[k] += dg[k];
      const float* xr = x_at(t, i);
      for (int64_t j = 0; j < d.n_in; ++j) {
        const float xj = xr[j];
        float* dw = d_wih_t.data() + j * u4;
#pragma GCC ivdep
        for (int64_t k = 0; k < u4; ++k) dw[k] += xj * dg[k];
      }
    }
    if (t > 0) {  // dh = dg_t @ w_hh, through the padded copy
      small_gemm(rows + t * s + kDg * u, lda, wt.w_pad.data(), d.up, dh_pad.data(), d.up, n, u4,
                 d.up);
      for (int64_t i = 0; i < n; ++i)
        std::memcpy(dh.data() + i * u, dh_pad.data() + i * d.up, u * sizeof(float));
    }
  }

  // d w_hh [4U, U] = sum over rows and steps of dg^T h_{t-1}: one GEMM over the range's
  // n * T slots (MKL, single-threaded inside this parallel region; it packs the strided
  // operands, where a register-blocked loop like small_gemm's measured 47 GFLOP/s
  // against MKL's ~68 at K = 960).
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  at::Tensor dg_all = at::from_blob(rows + kDg * u, {n * d.t, u4}, {s, 1}, opts);
  at::Tensor h_all = at::from_blob(rows + kH * u, {n * d.t, u}, {s, 1}, opts);
  at::Tensor d_whh = at::from_blob(grad + d.w_hh(), {u4, u}, opts);
  at::mm_out(d_whh, dg_all.t(), h_all);
  for (int64_t g = 0; g < u4; ++g) {
    for (int64_t j = 0; j < d.n_in; ++j) grad[d.w_ih() + g * d.n_in + j] = d_wih_t[j * u4 + g];
    grad[d.b_ih() + g] = grad[d.b_hh() + g] = d_bias[g];
  }
  return loss;
}

// flat, exp_avg, exp_avg_sq [M, P]; step_size, bc2_sqrt [M]; x [M, T, B, In];
// y, w [M, B]; work [>= threads, B, T, 11U]; grad [M, P] and loss [M] out. `units`: the LSTM's
// width. With update false, Adam is skipped (the gradients alone, for tests).
void train_step(const at::Tensor& flat, const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq,
                const at::Tensor& step_size, const at::Tensor& bc2_sqrt, double beta1,
                double beta2, double eps, const at::Tensor& x, const at::Tensor& y,
                const at::Tensor& w, const at::Tensor& work, const at::Tensor& grad,
                const at::Tensor& loss, int64_t units, bool update) {
  check({{flat, 2, "flat"}, {exp_avg, 2, "exp_avg"}, {exp_avg_sq, 2, "exp_avg_sq"},
         {step_size, 1, "step_size"}, {bc2_sqrt, 1, "bc2_sqrt"}, {x, 4, "x"}, {y, 2, "y"},
         {w, 2, "w"}, {work, 4, "work"}, {grad, 2, "grad"}, {loss, 1, "loss"}});
  Dims d{};
  d.m = x.size(0), d.t = x.size(1), d.b = x.size(2), d.n_in = x.size(3), d.u = units;
  d.u4 = 4 * units, d.up = (units + 7) / 8 * 8, d.s = kSlot * units;
  d.p = d.head_b() + 1;
  TORCH_CHECK(flat.size(0) == d.m && flat.size(1) == d.p, "flat must be [M, P] of one layer");
  TORCH_CHECK(grad.sizes() == flat.sizes() && exp_avg.sizes() == flat.sizes() &&
                  exp_avg_sq.sizes() == flat.sizes(),
              "grad and Adam moments must match flat");
  TORCH_CHECK(y.size(0) == d.m && y.size(1) == d.b && w.sizes() == y.sizes(), "y, w: [M, B]");
  TORCH_CHECK(work.size(1) == d.b && work.size(2) == d.t && work.size(3) == d.s,
              "work must be [threads, B, T, 11U]");
  TORCH_CHECK(loss.size(0) == d.m && step_size.size(0) == d.m && bc2_sqrt.size(0) == d.m,
              "loss, step_size, bc2_sqrt: [M]");
  float* p = flat.data_ptr<float>();
  float* g = grad.data_ptr<float>();
  float* lo = loss.data_ptr<float>();
  const float *xp = x.data_ptr<float>(), *yp = y.data_ptr<float>(), *wp = w.data_ptr<float>();
  float* wk = work.data_ptr<float>();

  // Work units: whole models when there are at least as many as threads, else each
  // model's rows in ranges of at least 8 (a multiple of 4: the GEMM's row block).
  const int64_t threads = at::get_num_threads();
  TORCH_CHECK(work.size(0) >= threads, "work needs a slot per thread (", threads, ")");
  const int64_t slot_size = d.b * d.t * d.s;
  int64_t per_model = d.m >= threads ? 1 : (threads + d.m - 1) / d.m;
  per_model = std::max<int64_t>(1, std::min(per_model, d.b / 8));
  const int64_t span = ((d.b + per_model - 1) / per_model + 3) / 4 * 4;
  per_model = (d.b + span - 1) / span;
  const int64_t n_units = d.m * per_model;
  std::vector<Weights> weights(d.m);
  std::vector<float> partial(per_model > 1 ? n_units * d.p : 0), unit_loss(n_units);

  at::parallel_for(0, d.m, 1, [&](int64_t m0, int64_t m1) {
    for (int64_t mi = m0; mi < m1; ++mi) weights[mi].fill(p + mi * d.p, d);
  });
  at::parallel_for(0, n_units, 1, [&](int64_t u0, int64_t u1) {
    for (int64_t k = u0; k < u1; ++k) {
      const int64_t mi = k / per_model, r0 = (k % per_model) * span;
      const int64_t r1 = std::min(d.b, r0 + span);
      float* out = per_model > 1 ? partial.data() + k * d.p : g + mi * d.p;
      float* mine = wk + at::get_thread_num() * slot_size;
      unit_loss[k] = rows_step(d, mi, r0, r1, p + mi * d.p, weights[mi], xp, yp, wp, mine, out);
    }
  });
  const AdamConsts consts(beta1, beta2, eps);
  float *mo = exp_avg.data_ptr<float>(), *vo = exp_avg_sq.data_ptr<float>();
  const float *ss = step_size.data_ptr<float>(), *bc = bc2_sqrt.data_ptr<float>();
  at::parallel_for(0, d.m, 1, [&](int64_t m0, int64_t m1) {
    for (int64_t mi = m0; mi < m1; ++mi) {
      float* gm = g + mi * d.p;
      float total = 0.0f;
      for (int64_t r = 0; r < per_model; ++r) total += unit_loss[mi * per_model + r];
      if (per_model > 1) {  // ranges summed in a fixed order: same result on every run
        std::memcpy(gm, partial.data() + mi * per_model * d.p, d.p * sizeof(float));
        for (int64_t r = 1; r < per_model; ++r) {
          const float* src = partial.data() + (mi * per_model + r) * d.p;
#pragma GCC ivdep
          for (int64_t k = 0; k < d.p; ++k) gm[k] += src[k];
        }
      }
      lo[mi] = total;
      if (update) {
        const int64_t at = mi * d.p;
        adam_update(p + at, gm, mo + at, vo + at, d.p, ss[mi], bc[mi], consts);
      }
    }
  });
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(coincast_lstm, lib) {
  lib.def(
      "train_step(Tensor(a!) flat, Tensor(b!) exp_avg, Tensor(c!) exp_avg_sq, Tensor step_size, "
      "Tensor bc2_sqrt, float beta1, float beta2, float eps, Tensor x, Tensor y, Tensor w, "
      "Tensor(d!) work, Tensor(e!) grad, Tensor(f!) loss, int units, bool update) -> ()");
}

TORCH_LIBRARY_IMPL(coincast_lstm, CPU, lib) { lib.impl("train_step", &train_step); }
