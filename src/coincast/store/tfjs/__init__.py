"""TF.js layers-model format (model.json + one float32 weights buffer) ⇄ ``LSTMRegressor``.

We write what tfjs-layers 4.22 writes for a Sequential LSTM model, so
``tf.loadLayersModel`` loads our files and ``model.save`` output loads here. Mapping
(gate order i, f, c, o on both sides):

    Keras/TF.js                       PyTorch (``lstm.{k}``, ``head``)
    <lstm>/kernel            [in, 4u] weight_ih_l0.T
    <lstm>/recurrent_kernel  [u, 4u]  weight_hh_l0.T
    <lstm>/bias              [4u]     bias_ih_l0 + bias_hh_l0   (read back: ih = bias, hh = 0)
    <dense>/kernel           [u, 1]   head.weight.T
    <dense>/bias             [1]      head.bias

``recurrent_activation: "sigmoid"`` is written explicitly: tfjs-layers defaults to
``hard_sigmoid``, which PyTorch's LSTM cannot compute, so such models are refused rather
than silently mispredicted. Reading parses JSON only (no code, no pickle) and checks every
weight's name, shape and dtype against the topology, the buffer length and finiteness
before any tensor is built; anything else is a ``ModelFormatError``.
"""
