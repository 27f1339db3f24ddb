// The paper model's training step fused into a few loops over one Float32Array arena.
//
// TF.js runs an LSTM step as some twenty separate ops, each a dispatch, a tensor and a
// kernel launch; at this size (batch 32, 50 units, 30 steps) that overhead, not the
// arithmetic, is most of an epoch. This module computes exactly what TF.js's
// LSTM(units, recurrentActivation "sigmoid") → Dense(1) with MSE and Adam computes, in
// TF.js's own weight layout, so the trained weights are written back into the TF.js
// model and saved by TF.js's own save path:
//   kernel [F, 4U], recurrent kernel [U, 4U], bias [4U], gates in the order i, f, c, o
//   (Keras's), dense kernel [U, 1], dense bias [1].
// Values are float32 throughout (the SIMD path also sums in float32; the JS fallback
// sums in double), so results equal TF.js's to float32 rounding, not bit for bit (the
// order of the sums differs). The matrix products and the cell's element-wise work go
// through `gemm` (lstm_gemm.js): WebAssembly SIMD when the engine has it, the same
// maths in plain JS when not; the dense head, the loss and Adam are plain JS here.

import { createGemm } from "./lstm_gemm.js";


// Adam as tf.train.adam(lr) sets it: beta1 0.9, beta2 0.999 and the backend's float32
// epsilon (1e-7), not Keras's Python default 1e-8.
export const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

export class FastLstm {
  // window T, features F, units U; batchSize is the largest batch trainBatch takes.
  constructor({ window, features, units, batchSize, lr }, gemm = null) {
    const T = window;
    const F = features;
    const U = units;
    const G = 4 * U;
    const B = batchSize;
    Object.assign(this, { T, F, U, G, B, lr });
    this.gemm = gemm || createGemm();
    // One flat parameter vector so Adam is one loop; views give each weight its name.
    this.sizes = [F * G, U * G, G, U, 1];
    this.offsets = [];
    let n = 0;
    for (const s of this.sizes) {
      this.offsets.push(n);
      n += s;
    }
    this.nParams = n;
    // params, grads, Adam moments and all activations live in one arena: the gemm reads
    // and writes them in place (a WebAssembly memory when it has one).
    const need = 4 * n + B * T * F + B + 3 * T * B * G + 3 * (T + 1) * B * U + 3 * B * U + 2 * B;
    const arena = this.gemm.arena(need);
    let at = 0;
    const take = (len) => {
      const v = arena.subarray(at, at + len);
      at += len;
      return v;
    };
    this.params = take(n);
    this.grads = take(n);
    this.m = take(n);
    this.v = take(n);
    const [kW, kU, kb, kd, kdb] = this.offsets;
    this.W = this.params.subarray(kW, kU);
    this.Ur = this.params.subarray(kU, kb);
    this.bias = this.params.subarray(kb, kd);
    this.Wd = this.params.subarray(kd, kdb);
    this.gW = this.grads.subarray(kW, kU);
    this.gU = this.grads.subarray(kU, kb);
    this.gb = this.grads.subarray(kb, kd);
    this.gWd = this.grads.subarray(kd, kdb);
    this.xb = take(B * T * F); // the batch, time-major: [T][B][F]
    this.yb = take(B);
    this.acts = take(T * B * G); // per step: i, f, g, o after their activations
    this.dz = take(T * B * G); // per step: d loss / d pre-activation
    this.z = take(T * B * G); // pre-activations (x·W + b + h·U)
    this.hs = take((T + 1) * B * U); // h_{-1} = 0, h_0 … h_{T-1}
    this.cs = take((T + 1) * B * U);
    this.tc = take((T + 1) * B * U); // tanh(c_t)
    this.dh = take(B * U);
    this.dc = take(B * U);
    this.dc2 = take(B * U);
    this.yhat = take(B);
    this.dy = take(B);
    this.step = 0;
    this.accBeta1 = ADAM.beta1;
    this.accBeta2 = ADAM.beta2;
  }

  // weights: TF.js's model.getWeights() order as Float32Arrays (kernel, recurrent
  // kernel, bias, dense kernel, dense bias).
  setWeights(weights) {
    weights.forEach((w, k) => {
      if (w.length !== this.sizes[k]) throw new Error(`weight ${k}: ${w.length} values, not ${this.sizes[k]}`);
      this.params.set(w, this.offsets[k]);
    });
  }

  getWeights() {
    return this.sizes.map((s, k) => this.params.slice(this.offsets[k], this.offsets[k] + s));
  }

  // Copies windows order[start … start+nb) of xs ([N][T][F] flat) into the time-major batch.
  load(xs, ys, order, start, nb) {
    const { T, F, xb, yb } = this;
    for (let b = 0; b < nb; b += 1) {
      const src = order[start + b] * T * F;
      for (let t = 0; t < T; t += 1) {
        for (let f = 0; f < F; f += 1) xb[(t * nb + b) * F + f] = xs[src + t * F + f];
      }
      if (ys) yb[b] = ys[order[start + b]];
    }
  }

  // The loaded batch of nb windows → yhat[0 … nb); keeps what backward needs.
  forward(nb) {
    const { T, F, U, G, xb, acts, z, hs, cs, tc, bias, W, Ur, Wd, gemm } = this;
    const BU = nb * U;
    hs.fill(0, 0, BU);
    cs.fill(0, 0, BU);
    const bd = this.params[this.offsets[4]];
    for (let t = 0; t < T; t += 1) {
      const zt = t * nb * G;
      for (let b = 0; b < nb; b += 1) z.set(bias, zt + b * G);
      // z_t += x_t · W ; z_t += h_{t-1} · U
      gemm.nn(xb, t * nb * F, F, W, 0, z, zt, nb, F, G);
      gemm.nn(hs, t * BU, U, Ur, 0, z, zt, nb, U, G);
      gemm.cell(z, zt, acts, zt, cs, t * BU, (t + 1) * BU, tc, (t + 1) * BU, hs, (t + 1) * BU, nb, U);
    }
    const hT = T * BU;
    for (let b = 0; b < nb; b += 1) {
      let s = bd;
      for (let u = 0; u < U; u += 1) s += hs[hT + b * U + u] * Wd[u];
      this.yhat[b] = s;
    }
    return this.yhat;
  }

  // Gradients of the batch's mean squared error into this.grads; returns the loss.
  backward(nb) {
    const { T, F, U, G, xb, yb, yhat, dy, acts, dz, hs, cs, tc, dh, dc, dc2, Ur, Wd, gemm } = this;
    const { gW, gU, gb, gWd } = this;
    const BU = nb * U;
    this.grads.fill(0);
    let loss = 0;
    for (let b = 0; b < nb; b += 1) {
      const e = yhat[b] - yb[b];
      loss += e * e;
      dy[b] = (2 * e) / nb;
    }
    const hT = T * BU;
    let gbd = 0;
    for (let b = 0; b < nb; b += 1) {
      gbd += dy[b];
      for (let u = 0; u < U; u += 1) {
        gWd[u] += hs[hT + b * U + u] * dy[b];
        dh[b * U + u] = dy[b] * Wd[u];
      }
    }
    this.grads[this.offsets[4]] = gbd;
    dc.fill(0, 0, BU);
    for (let t = T - 1; t >= 0; t -= 1) {
      const zt = t * nb * G;
      const hp = t * BU;
      const hn = (t + 1) * BU;
      // dc ping-pongs between two buffers: the kernel never writes what it reads.
      const dci = (T - 1 - t) % 2 === 0 ? dc : dc2;
      const dco = dci === dc ? dc2 : dc;
      gemm.bcell(acts, zt, tc, hn, cs, hp, dh, dci, dco, dz, zt, nb, U);
      // dh_{t-1} = dz_t · Uᵀ (h_{-1} is a constant: no need at t = 0)
      if (t > 0) {
        dh.fill(0, 0, BU);
        gemm.nt(dz, zt, G, Ur, 0, dh, 0, nb, G, U);
      }
    }
    // Weight gradients over all steps at once: [U, T·B] · [T·B, 4U] and the like.
    gemm.tn(hs, 0, U, dz, 0, gU, 0, T * nb, U, G);
    gemm.tn(xb, 0, F, dz, 0, gW, 0, T * nb, F, G);
    for (let r = 0; r < T * nb; r += 1) {
      const o = r * G;
      for (let j = 0; j < G; j += 1) gb[j] += dz[o + j];
    }
    return loss / nb;
  }

  // One Adam step exactly as tfjs-core's AdamOptimizer.applyGradients writes it.
  adam() {
    const { params, grads, m, v, lr } = this;
    const { beta1, beta2, epsilon } = ADAM;
    const c1 = 1 - this.accBeta1;
    const c2 = 1 - this.accBeta2;
    for (let k = 0; k < this.nParams; k += 1) {
      const g = grads[k];
      const mk = m[k] * beta1 + g * (1 - beta1);
      const vk = v[k] * beta2 + g * g * (1 - beta2);
      m[k] = mk;
      v[k] = vk;
      params[k] += -lr * (mk / c1 / (Math.sqrt(vk / c2) + epsilon));
    }
    this.accBeta1 *= beta1;
    this.accBeta2 *= beta2;
    this.step += 1;
  }

  // One batch: forward, backward, Adam; returns the loss before the update (as fit logs it).
  trainBatch(xs, ys, order, start, nb) {
    this.load(xs, ys, order, start, nb);
    this.forward(nb);
    const loss = this.backward(nb);
    this.adam();
    return loss;
  }

  // One epoch over order (a permutation of window indices), in batches of this.B;
  // returns the sample-weighted mean batch loss, as TF.js's fit reports it.
  trainEpoch(xs, ys, order) {
    let total = 0;
    for (let s = 0; s < order.length; s += this.B) {
      const nb = Math.min(this.B, order.length - s);
      total += this.trainBatch(xs, ys, order, s, nb) * nb;
    }
    return total / order.length;
  }

  // xs: [n][T][F] flat → Float32Array(n) of predictions.
  predict(xs, n) {
    const out = new Float32Array(n);
    const order = Int32Array.from({ length: n }, (_, i) => i);
    for (let s = 0; s < n; s += this.B) {
      const nb = Math.min(this.B, n - s);
      this.load(xs, null, order, s, nb);
      out.set(this.forward(nb).subarray(0, nb), s);
    }
    return out;
  }

  // Mean squared error over n windows (the validation loss).
  mse(xs, ys, n) {
    const p = this.predict(xs, n);
    let s = 0;
    for (let i = 0; i < n; i += 1) s += (p[i] - ys[i]) ** 2;
    return s / n;
  }
}

// Fisher–Yates with Math.random, as tf.util.shuffle orders fit's batches each epoch.
export function shuffled(n) {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
