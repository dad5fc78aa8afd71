"""Plausible wrong answers to tf02's exercises; each must lose points (tests/test_mutants.py)."""

_LN_STATS = """        mean = ops.mean(inputs, axis=-1, keepdims=True)
        centred = inputs - mean
        variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)
        outputs = centred * ops.rsqrt(variance + self.epsilon)"""
_LN_AFFINE = """        if self.gamma is not None:
            outputs = outputs * self.gamma
        if self.beta is not None:
            outputs = outputs + self.beta
        return outputs"""
_RMS_BODY = """        mean_square = ops.mean(ops.square(inputs), axis=-1, keepdims=True)
        outputs = inputs * ops.rsqrt(mean_square + self.epsilon)"""

MUTANTS = [
    # ---------------------------------------------------------------- Exercise 1: MyLayerNorm
    dict(name="delegates to keras.ops.layer_normalization", equivalent=["delegates to keras.layers.LayerNormalization (built inside call)", "tf.nn.moments + tf.nn.batch_normalization over the last axis"], hint="Your layer calls Keras' built-in layer normalization. This exercise asks you to compute the mean and variance yourself.", cell="my_layernorm",
         replace=[(_LN_STATS + "\n" + _LN_AFFINE,
                   "        return ops.layer_normalization(inputs, self.gamma, self.beta, axis=-1, epsilon=self.epsilon)")]),
    dict(name="delegates to keras.layers.LayerNormalization (built inside call)", equivalent=["delegates to keras.ops.layer_normalization", "tf.nn.moments + tf.nn.batch_normalization over the last axis"], hint="Your layer builds Keras' LayerNormalization inside call. This exercise asks you to compute the mean and variance yourself.", cell="my_layernorm",
         replace=[(_LN_STATS, "        outputs = keras.layers.LayerNormalization(axis=-1, epsilon=self.epsilon, center=False,"
                              " scale=False)(inputs)")]),
    dict(name="tf.nn.moments + tf.nn.batch_normalization over the last axis", equivalent=["delegates to keras.ops.layer_normalization", "delegates to keras.layers.LayerNormalization (built inside call)"], hint="Your layer uses TensorFlow's built-in moments and normalization ops. This exercise asks you to compute the mean and variance yourself with keras.ops.", cell="my_layernorm",
         replace=[(_LN_STATS + "\n" + _LN_AFFINE,
                   "        mean, variance = tf.nn.moments(inputs, axes=[-1], keepdims=True)\n"
                   "        return tf.nn.batch_normalization(inputs, mean, variance, self.beta, self.gamma, self.epsilon)")]),
    dict(name="unbiased variance (divided by d - 1)", hint='Your LayerNorm uses the unbiased variance (divided by d-1). LayerNorm normalizes with the biased variance over the features (divided by d).', cell="my_layernorm",
         replace=[("variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)",
                   "variance = ops.sum(ops.square(centred), axis=-1, keepdims=True) / (self.dim - 1)")]),
    dict(name="epsilon added outside the square root", hint='Your layer adds epsilon to the standard deviation. LayerNorm adds epsilon to the variance, inside the square root.', cell="my_layernorm",
         replace=[("outputs = centred * ops.rsqrt(variance + self.epsilon)",
                   "outputs = centred / (ops.sqrt(variance) + self.epsilon)")]),
    dict(name="epsilon missing", hint='Your layer divides by the standard deviation without epsilon, so a constant token divides by zero. Add epsilon to the variance before the square root.', cell="my_layernorm",
         replace=[("outputs = centred * ops.rsqrt(variance + self.epsilon)", "outputs = centred * ops.rsqrt(variance)")]),
    dict(name="per-batch statistics (axis 0) instead of per token", hint='Your statistics are taken over the batch axis. LayerNorm normalizes each token on its own, over its feature axis.', cell="my_layernorm",
         replace=[("mean = ops.mean(inputs, axis=-1, keepdims=True)", "mean = ops.mean(inputs, axis=0, keepdims=True)"),
                  ("variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)",
                   "variance = ops.mean(ops.square(centred), axis=0, keepdims=True)")]),
    dict(name="statistics over every non-batch axis (sequence and features)", hint='Your statistics are taken over the sequence and the features together. LayerNorm here normalizes each token over its last (feature) axis only.', cell="my_layernorm",
         replace=[("mean = ops.mean(inputs, axis=-1, keepdims=True)",
                   "mean = ops.mean(inputs, axis=tuple(range(1, len(inputs.shape))), keepdims=True)"),
                  ("variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)",
                   "variance = ops.mean(ops.square(centred), axis=tuple(range(1, len(inputs.shape))), keepdims=True)")]),
    dict(name="gamma and beta not trainable", hint='Your gamma and beta are not trainable, so training never changes them. Create them as trainable weights.', cell="my_layernorm",
         replace=[('initializer="ones")', 'initializer="ones", trainable=False)'),
                  ('initializer="zeros")', 'initializer="zeros", trainable=False)')]),
    # ---------------------------------------------------------------- Exercise 2: MyRMSNorm
    dict(name="delegates to keras.ops.rms_normalization", equivalent=["delegates to keras.layers.RMSNormalization (built inside call)"], hint="Your layer calls Keras' built-in RMS normalization. This exercise asks you to compute the root mean square yourself.", cell="my_rmsnorm",
         replace=[(_RMS_BODY, "        outputs = ops.rms_normalization(inputs, axis=-1, epsilon=self.epsilon)")]),
    dict(name="delegates to keras.layers.RMSNormalization (built inside call)", equivalent=["delegates to keras.ops.rms_normalization"], hint="Your layer builds Keras' RMSNormalization inside call. This exercise asks you to compute the root mean square yourself.", cell="my_rmsnorm",
         replace=[(_RMS_BODY, "        outputs = keras.layers.RMSNormalization(axis=-1, epsilon=self.epsilon)(inputs)")]),
    dict(name="LayerNorm's centring kept (mean subtracted)", hint='Your RMSNorm subtracts the mean first, which makes it a LayerNorm. RMSNorm does not centre: it divides by the root mean square of the raw features.', cell="my_rmsnorm",
         replace=[(_RMS_BODY, "        inputs = inputs - ops.mean(inputs, axis=-1, keepdims=True)\n" + _RMS_BODY)]),
    dict(name="sum of squares instead of the mean", hint='Your RMSNorm divides by the root of the SUM of squares, so outputs shrink by sqrt(d). Average the squares over the features.', cell="my_rmsnorm",
         replace=[("mean_square = ops.mean(ops.square(inputs), axis=-1, keepdims=True)",
                   "mean_square = ops.sum(ops.square(inputs), axis=-1, keepdims=True)")]),
    dict(name="epsilon added to the root, outside the square root", hint='Your RMSNorm adds epsilon to the root mean square. Add it to the mean square, inside the square root.', cell="my_rmsnorm",
         replace=[("outputs = inputs * ops.rsqrt(mean_square + self.epsilon)",
                   "outputs = inputs / (ops.sqrt(mean_square) + self.epsilon)")]),
    dict(name="epsilon missing (RMSNorm)", hint='Your RMSNorm divides without epsilon, so an all-zero token divides by zero. Add epsilon to the mean square before the square root.', cell="my_rmsnorm",
         replace=[("outputs = inputs * ops.rsqrt(mean_square + self.epsilon)", "outputs = inputs * ops.rsqrt(mean_square)")]),
    dict(name="per-batch mean square (axis 0) instead of per token", hint='Your mean square is taken over the batch axis. RMSNorm normalizes each token on its own, over its feature axis.', cell="my_rmsnorm",
         replace=[("mean_square = ops.mean(ops.square(inputs), axis=-1, keepdims=True)",
                   "mean_square = ops.mean(ops.square(inputs), axis=0, keepdims=True)")]),
    dict(name="gamma not trainable", hint='Your RMSNorm gamma is not trainable, so training never changes it. Create it as a trainable weight.', cell="my_rmsnorm",
         replace=[('initializer="ones")', 'initializer="ones", trainable=False)')]),
    # ---------------------------------------------------------------- Exercise 3: achieved_bandwidth
    dict(name="counts only the read", hint='Your bandwidth counts only the bytes read. A normalization reads its input and writes an output of the same size: count both.', cell="achieved_bandwidth",
         replace=[("return 2 * n_elements *", "return n_elements *")]),
    dict(name="4 bytes per element hard-coded", hint='Your bandwidth assumes 4 bytes per element whatever the dtype. Use the size of the dtype you were given.', cell="achieved_bandwidth",
         replace=[("tf.as_dtype(dtype).size", "4")]),
    dict(name="GiB/s instead of GB/s", hint='Your bandwidth is in GiB/s (divided by 2^30). The exercise asks for GB/s, decimal gigabytes (1e9 bytes).', cell="achieved_bandwidth", replace=[("/ 1e9", "/ 2**30")]),
]

# Wrong answers that are NOT in the catalogue: each must lose points, and the diagnosis should name none
# (make diagnosis reports how often it does).
UNCATALOGUED = [
    dict(name='beta initialized to ones', cell='my_layernorm',
         replace=[('initializer="zeros")', 'initializer="ones")')]),
    dict(name='beta added before the scale', cell='my_layernorm',
         replace=[(_LN_AFFINE, """        if self.beta is not None:
            outputs = outputs + self.beta
        if self.gamma is not None:
            outputs = outputs * self.gamma
        return outputs""")]),
    dict(name='get_config leaves out center and scale', cell='my_layernorm',
         replace=[('return {**super().get_config(), "epsilon": self.epsilon, "center": self.center, "scale": self.scale}',
                   'return {**super().get_config(), "epsilon": self.epsilon}')]),
    dict(name='square root forgotten (RMSNorm divides by the mean square)', cell='my_rmsnorm',
         replace=[('outputs = inputs * ops.rsqrt(mean_square + self.epsilon)', 'outputs = inputs / (mean_square + self.epsilon)')]),
    dict(name='epsilon hard-coded to the default 1e-6', cell='my_rmsnorm',
         replace=[('ops.rsqrt(mean_square + self.epsilon)', 'ops.rsqrt(mean_square + 1e-6)')]),
    dict(name='gamma created even when scale=False', cell='my_rmsnorm',
         replace=[("""        self.gamma = (self.add_weight(name="gamma", shape=(self.dim,), initializer="ones")
                      if self.scale else None)""",
                   '        self.gamma = self.add_weight(name="gamma", shape=(self.dim,), initializer="ones")')]),
    dict(name='seconds taken for milliseconds', cell='achieved_bandwidth',
         replace=[('/ seconds / 1e9', '/ (seconds / 1000) / 1e9')]),
    dict(name='gigabits per second (bytes counted as bits)', cell='achieved_bandwidth',
         replace=[('tf.as_dtype(dtype).size', 'tf.as_dtype(dtype).size * 8')]),
]

# Correct alternatives: each must keep full marks, and nothing is ever diagnosed for them.
CORRECT = [
    dict(name='variance from keras.ops.var and a division by the square root', cell='my_layernorm',
         replace=[('variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)',
                   'variance = ops.var(inputs, axis=-1, keepdims=True)'),
                  ('outputs = centred * ops.rsqrt(variance + self.epsilon)',
                   'outputs = centred / ops.sqrt(variance + self.epsilon)')]),
    dict(name='one division by seconds * 1e9', cell='achieved_bandwidth',
         replace=[('/ seconds / 1e9', '/ (seconds * 1e9)')]),
]
