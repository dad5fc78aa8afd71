"""Plausible wrong answers to tf04 (MyGroupNorm channels-last, instance norm and GroupNorm(1) as LayerNormalization)."""

MUTANTS = [
    # Exercise 1: MyGroupNorm
    dict(name="unbiased variance", cell="my_groupnorm",
         replace=[("variance = ops.mean(ops.square(centred), axis=(1, 3), keepdims=True)  # biased",
                   "count = ops.cast(ops.shape(grouped)[1] * ops.shape(grouped)[3], inputs.dtype)\n"
                   "        variance = ops.sum(ops.square(centred), axis=(1, 3), keepdims=True) / (count - 1.0)")]),
    dict(name="epsilon outside the square root", cell="my_groupnorm",
         replace=[("centred * ops.rsqrt(variance + self.epsilon)", "centred / (ops.sqrt(variance) + self.epsilon)")]),
    dict(name="groups formed from non-adjacent channels (channel c in group c % G)", cell="my_groupnorm",
         replace=[("grouped = ops.reshape(inputs, (shape[0], -1, self.groups, self.channels // self.groups))",
                   "grouped = ops.reshape(inputs, (shape[0], -1, self.channels // self.groups, self.groups))"),
                  ("mean = ops.mean(grouped, axis=(1, 3), keepdims=True)", "mean = ops.mean(grouped, axis=(1, 2), keepdims=True)"),
                  ("variance = ops.mean(ops.square(centred), axis=(1, 3), keepdims=True)", "variance = ops.mean(ops.square(centred), axis=(1, 2), keepdims=True)")]),
    dict(name="statistics per position (spatial axes forgotten)", cell="my_groupnorm",
         replace=[("mean = ops.mean(grouped, axis=(1, 3), keepdims=True)", "mean = ops.mean(grouped, axis=3, keepdims=True)"),
                  ("variance = ops.mean(ops.square(centred), axis=(1, 3), keepdims=True)", "variance = ops.mean(ops.square(centred), axis=3, keepdims=True)")]),
    dict(name="statistics shared across the batch", cell="my_groupnorm",
         replace=[("mean = ops.mean(grouped, axis=(1, 3), keepdims=True)", "mean = ops.mean(grouped, axis=(0, 1, 3), keepdims=True)"),
                  ("variance = ops.mean(ops.square(centred), axis=(1, 3), keepdims=True)", "variance = ops.mean(ops.square(centred), axis=(0, 1, 3), keepdims=True)")]),
    dict(name="gamma and beta per group instead of per channel", cell="my_groupnorm",
         replace=[('self.gamma = self.add_weight(name="gamma", shape=(self.channels,)', 'self.gamma = self.add_weight(name="gamma", shape=(self.groups,)'),
                  ('self.beta = self.add_weight(name="beta", shape=(self.channels,)', 'self.beta = self.add_weight(name="beta", shape=(self.groups,)'),
                  ("        outputs = ops.reshape(centred * ops.rsqrt(variance + self.epsilon), shape)\n",
                   "        outputs = centred * ops.rsqrt(variance + self.epsilon)\n"
                   "        if self.gamma is not None:\n            outputs = outputs * ops.reshape(self.gamma, (1, 1, -1, 1))\n"
                   "        if self.beta is not None:\n            outputs = outputs + ops.reshape(self.beta, (1, 1, -1, 1))\n"
                   "        return ops.reshape(outputs, shape)\n")]),
    dict(name="divisibility not checked", cell="my_groupnorm",
         replace=[('raise ValueError(f"the number of channels ({self.channels}) must be divisible by groups ({self.groups})")', "pass")]),
    dict(name="Keras' default epsilon hard-coded", cell="my_groupnorm",
         replace=[("ops.rsqrt(variance + self.epsilon)", "ops.rsqrt(variance + 1e-3)")]),
    dict(name="delegates to keras.layers.GroupNormalization", cell="my_groupnorm",
         replace=[("        shape = ops.shape(inputs)\n",
                   "        inner = keras.layers.GroupNormalization(groups=self.groups, epsilon=self.epsilon, center=False, scale=False)\n"
                   "        outputs = inner(inputs)\n"
                   "        outputs = outputs * self.gamma if self.gamma is not None else outputs\n"
                   "        return outputs + self.beta if self.beta is not None else outputs\n")]),
    dict(name="get_config forgets groups", cell="my_groupnorm",
         replace=[('return {**super().get_config(), "groups": self.groups, ', 'return {**super().get_config(), ')]),
    # Exercise 2: instance_norm and group_norm_as_layer_norm
    dict(name="instance_norm also averages over the batch", cell="unification",
         replace=[("axes = tuple(range(1, len(x.shape) - 1))", "axes = tuple(range(0, len(x.shape) - 1))")]),
    dict(name="instance_norm over positions and channels (LayerNorm)", cell="unification",
         replace=[("axes = tuple(range(1, len(x.shape) - 1))", "axes = tuple(range(1, len(x.shape)))")]),
    dict(name="instance_norm written for 4-D inputs only", cell="unification",
         replace=[("axes = tuple(range(1, len(x.shape) - 1))", "axes = (1, 2)")]),
    dict(name="instance_norm ignores epsilon", cell="unification",
         replace=[("return centred * ops.rsqrt(variance + epsilon)", "return centred * ops.rsqrt(variance + 1e-3)")]),
    dict(name="instance_norm through GroupNormalization(groups=-1)", cell="unification",
         replace=[("    axes = tuple(range(1, len(x.shape) - 1))  # every position axis\n",
                   "    return keras.layers.GroupNormalization(groups=-1, epsilon=epsilon, center=False, scale=False)(x)\n")]),
    dict(name="LayerNormalization keeps its initial gamma/beta", cell="unification",
         replace=[("        ln.gamma.assign(np.broadcast_to(np.asarray(gn.gamma), (h, w, c)))", "        pass"),
                  ("        ln.beta.assign(np.broadcast_to(np.asarray(gn.beta), (h, w, c)))", "        pass")]),
    dict(name="gamma tiled per position instead of per channel", cell="unification",
         replace=[("ln.gamma.assign(np.broadcast_to(np.asarray(gn.gamma), (h, w, c)))", "ln.gamma.assign(np.repeat(np.asarray(gn.gamma), h * w).reshape(h, w, c))"),
                  ("ln.beta.assign(np.broadcast_to(np.asarray(gn.beta), (h, w, c)))", "ln.beta.assign(np.repeat(np.asarray(gn.beta), h * w).reshape(h, w, c))")]),
    dict(name="LayerNormalization with Keras' default epsilon", cell="unification",
         replace=[("keras.layers.LayerNormalization(axis=[1, 2, 3], epsilon=gn.epsilon,", "keras.layers.LayerNormalization(axis=[1, 2, 3],")]),
    dict(name="LayerNormalization over the channel axis only", cell="unification",
         replace=[("keras.layers.LayerNormalization(axis=[1, 2, 3],", "keras.layers.LayerNormalization(axis=-1,"),
                  ("np.broadcast_to(np.asarray(gn.gamma), (h, w, c))", "np.asarray(gn.gamma)"),
                  ("np.broadcast_to(np.asarray(gn.beta), (h, w, c))", "np.asarray(gn.beta)")]),
    dict(name="no check of groups == 1", cell="unification",
         replace=[("    if gn.groups != 1:\n        raise ValueError", "    if False:\n        raise ValueError")]),
]
