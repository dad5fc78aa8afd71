"""Plausible wrong answers to tf04 (MyGroupNorm channels-last, instance norm and GroupNorm(1) as LayerNormalization)."""

MUTANTS = [
    # Exercise 1: MyGroupNorm
    dict(name="unbiased variance", hint='Your GroupNorm uses the unbiased variance (divided by n-1). GroupNorm normalizes with the biased variance over each group (divided by n).', cell="my_groupnorm",
         replace=[("variance = ops.mean(ops.square(centred), axis=(1, 3), keepdims=True)  # biased",
                   "count = ops.cast(ops.shape(grouped)[1] * ops.shape(grouped)[3], inputs.dtype)\n"
                   "        variance = ops.sum(ops.square(centred), axis=(1, 3), keepdims=True) / (count - 1.0)")]),
    dict(name="epsilon outside the square root", hint='Your layer adds epsilon to the standard deviation. GroupNorm adds epsilon to the variance, inside the square root.', cell="my_groupnorm",
         replace=[("centred * ops.rsqrt(variance + self.epsilon)", "centred / (ops.sqrt(variance) + self.epsilon)")]),
    dict(name="groups formed from non-adjacent channels (channel c in group c % G)", hint="Your groups interleave the channels (channel c in group c mod G). GroupNorm's groups are blocks of C/G adjacent channels.", cell="my_groupnorm",
         replace=[("grouped = ops.reshape(inputs, (shape[0], -1, self.groups, self.channels // self.groups))",
                   "grouped = ops.reshape(inputs, (shape[0], -1, self.channels // self.groups, self.groups))"),
                  ("mean = ops.mean(grouped, axis=(1, 3), keepdims=True)", "mean = ops.mean(grouped, axis=(1, 2), keepdims=True)"),
                  ("variance = ops.mean(ops.square(centred), axis=(1, 3), keepdims=True)", "variance = ops.mean(ops.square(centred), axis=(1, 2), keepdims=True)")]),
    dict(name="statistics per position (spatial axes forgotten)", hint="Your statistics are taken over the group's channels at each position. GroupNorm averages over the group's channels AND every spatial position.", cell="my_groupnorm",
         replace=[("mean = ops.mean(grouped, axis=(1, 3), keepdims=True)", "mean = ops.mean(grouped, axis=3, keepdims=True)"),
                  ("variance = ops.mean(ops.square(centred), axis=(1, 3), keepdims=True)", "variance = ops.mean(ops.square(centred), axis=3, keepdims=True)")]),
    dict(name="statistics shared across the batch", hint="Your statistics pool the batch. GroupNorm computes each sample's statistics on its own, which is why it does not depend on the batch size.", cell="my_groupnorm",
         replace=[("mean = ops.mean(grouped, axis=(1, 3), keepdims=True)", "mean = ops.mean(grouped, axis=(0, 1, 3), keepdims=True)"),
                  ("variance = ops.mean(ops.square(centred), axis=(1, 3), keepdims=True)", "variance = ops.mean(ops.square(centred), axis=(0, 1, 3), keepdims=True)")]),
    dict(name="gamma and beta per group instead of per channel", hint="Your gamma and beta have one value per group. GroupNorm's scale and offset have one value per channel.", cell="my_groupnorm",
         replace=[('self.gamma = self.add_weight(name="gamma", shape=(self.channels,)', 'self.gamma = self.add_weight(name="gamma", shape=(self.groups,)'),
                  ('self.beta = self.add_weight(name="beta", shape=(self.channels,)', 'self.beta = self.add_weight(name="beta", shape=(self.groups,)'),
                  ("        outputs = ops.reshape(centred * ops.rsqrt(variance + self.epsilon), shape)\n",
                   "        outputs = centred * ops.rsqrt(variance + self.epsilon)\n"
                   "        if self.gamma is not None:\n            outputs = outputs * ops.reshape(self.gamma, (1, 1, -1, 1))\n"
                   "        if self.beta is not None:\n            outputs = outputs + ops.reshape(self.beta, (1, 1, -1, 1))\n"
                   "        return ops.reshape(outputs, shape)\n")]),
    dict(name="divisibility not checked", hint='Your layer accepts a number of channels that groups does not divide. Raise a ValueError that names both numbers.', cell="my_groupnorm",
         replace=[('raise ValueError(f"the number of channels ({self.channels}) must be divisible by groups ({self.groups})")', "pass")]),
    dict(name="Keras' default epsilon hard-coded", hint="Your layer ignores its epsilon argument and uses a fixed value (such as Keras' default 1e-3). Use the epsilon the layer was built with.", cell="my_groupnorm",
         replace=[("ops.rsqrt(variance + self.epsilon)", "ops.rsqrt(variance + 1e-3)")]),
    dict(name="delegates to keras.layers.GroupNormalization", hint="Your layer wraps Keras' built-in GroupNormalization. This exercise asks you to compute the group statistics yourself.", cell="my_groupnorm",
         replace=[("        shape = ops.shape(inputs)\n",
                   "        inner = keras.layers.GroupNormalization(groups=self.groups, epsilon=self.epsilon, center=False, scale=False)\n"
                   "        outputs = inner(inputs)\n"
                   "        outputs = outputs * self.gamma if self.gamma is not None else outputs\n"
                   "        return outputs + self.beta if self.beta is not None else outputs\n")]),
    dict(name="get_config forgets groups", hint='Your get_config leaves out groups, so a saved and reloaded layer gets the default number of groups. Include every constructor argument.', cell="my_groupnorm",
         replace=[('return {**super().get_config(), "groups": self.groups, ', 'return {**super().get_config(), ')]),
    # Exercise 2: instance_norm and group_norm_as_layer_norm
    dict(name="instance_norm also averages over the batch", hint="Your instance_norm pools the batch. Instance norm takes each sample's per-channel statistics over its positions only.", cell="unification",
         replace=[("axes = tuple(range(1, len(x.shape) - 1))", "axes = tuple(range(0, len(x.shape) - 1))")]),
    dict(name="instance_norm over positions and channels (LayerNorm)", hint='Your instance_norm averages over the channels too, which is LayerNorm. Instance norm keeps one mean and variance per channel, over the positions only.', cell="unification",
         replace=[("axes = tuple(range(1, len(x.shape) - 1))", "axes = tuple(range(1, len(x.shape)))")]),
    dict(name="instance_norm written for 4-D inputs only", hint='Your instance_norm works only for 4-D inputs. Average over every axis between the batch and the channel axis, whatever the rank.', cell="unification",
         replace=[("axes = tuple(range(1, len(x.shape) - 1))", "axes = (1, 2)")]),
    dict(name="instance_norm ignores epsilon", hint='Your instance_norm uses a fixed epsilon instead of the epsilon argument. Use the value passed in.', cell="unification",
         replace=[("return centred * ops.rsqrt(variance + epsilon)", "return centred * ops.rsqrt(variance + 1e-3)")]),
    dict(name="instance_norm through GroupNormalization(groups=-1)", hint="Your instance_norm calls Keras' GroupNormalization. This exercise asks you to compute the statistics yourself.", cell="unification",
         replace=[("    axes = tuple(range(1, len(x.shape) - 1))  # every position axis\n",
                   "    return keras.layers.GroupNormalization(groups=-1, epsilon=epsilon, center=False, scale=False)(x)\n")]),
    dict(name="LayerNormalization keeps its initial gamma/beta", hint="Your LayerNormalization keeps its initial gamma and beta, so a trained GroupNorm's affine step is lost. Copy gn's per-channel gamma and beta to every position.", cell="unification",
         replace=[("        ln.gamma.assign(np.broadcast_to(np.asarray(gn.gamma), (h, w, c)))", "        pass"),
                  ("        ln.beta.assign(np.broadcast_to(np.asarray(gn.beta), (h, w, c)))", "        pass")]),
    dict(name="gamma tiled per position instead of per channel", hint="Your gamma and beta repeat the channel values in the wrong order. Each channel's value must appear at every position of that channel.", cell="unification",
         replace=[("ln.gamma.assign(np.broadcast_to(np.asarray(gn.gamma), (h, w, c)))", "ln.gamma.assign(np.repeat(np.asarray(gn.gamma), h * w).reshape(h, w, c))"),
                  ("ln.beta.assign(np.broadcast_to(np.asarray(gn.beta), (h, w, c)))", "ln.beta.assign(np.repeat(np.asarray(gn.beta), h * w).reshape(h, w, c))")]),
    dict(name="LayerNormalization with Keras' default epsilon", hint="Your LayerNormalization uses its default epsilon instead of the GroupNorm's. Copy the epsilon over.", cell="unification",
         replace=[("keras.layers.LayerNormalization(axis=[1, 2, 3], epsilon=gn.epsilon,", "keras.layers.LayerNormalization(axis=[1, 2, 3],")]),
    dict(name="LayerNormalization over the channel axis only", hint='Your LayerNormalization normalizes over the channels at each position. GroupNorm with one group normalizes over all positions and channels together.', cell="unification",
         replace=[("keras.layers.LayerNormalization(axis=[1, 2, 3],", "keras.layers.LayerNormalization(axis=-1,"),
                  ("np.broadcast_to(np.asarray(gn.gamma), (h, w, c))", "np.asarray(gn.gamma)"),
                  ("np.broadcast_to(np.asarray(gn.beta), (h, w, c))", "np.asarray(gn.beta)")]),
    dict(name="no check of groups == 1", hint='Your function converts a GroupNorm with more than one group. Raise a ValueError unless groups is 1.', cell="unification",
         replace=[("    if gn.groups != 1:\n        raise ValueError", "    if False:\n        raise ValueError")]),
    dict(name="instance_norm counts positions from the static shape", hint="Your instance_norm divides by a position count read from x.shape, which is unknown (None) inside a functional model or a traced function. Let ops.mean count, or use ops.shape.", cell="unification",
         replace=[("""    centred = x - ops.mean(x, axis=axes, keepdims=True)
    variance = ops.mean(ops.square(centred), axis=axes, keepdims=True)""", """    n = int(np.prod(x.shape[1:-1]))
    centred = x - ops.sum(x, axis=axes, keepdims=True) / n
    variance = ops.sum(ops.square(centred), axis=axes, keepdims=True) / n""")]),
]

UNCATALOGUED = [
    # Exercise 1: MyGroupNorm
    dict(name="divides by the variance (square root forgotten)", cell="my_groupnorm",
         replace=[("centred * ops.rsqrt(variance + self.epsilon)", "centred / (variance + self.epsilon)")]),
    dict(name="center and scale flags ignored (gamma and beta always created)", cell="my_groupnorm",
         replace=[(' initializer="ones") if self.scale else None', ' initializer="ones")'),
                  (' initializer="zeros") if self.center else None', ' initializer="zeros")')]),
    dict(name="gamma starts at zeros", cell="my_groupnorm",
         replace=[('self.gamma = self.add_weight(name="gamma", shape=(self.channels,), initializer="ones")',
                   'self.gamma = self.add_weight(name="gamma", shape=(self.channels,), initializer="zeros")')]),
    # Exercise 2: instance_norm and group_norm_as_layer_norm
    dict(name="instance_norm variance as the mean of squares (mean not subtracted)", cell="unification",
         replace=[("variance = ops.mean(ops.square(centred), axis=axes, keepdims=True)",
                   "variance = ops.mean(ops.square(x), axis=axes, keepdims=True)")]),
    dict(name="LayerNormalization gets gn's gamma but not its beta", cell="unification",
         replace=[("        ln.beta.assign(np.broadcast_to(np.asarray(gn.beta), (h, w, c)))", "        pass")]),
    dict(name="LayerNormalization always centers and scales", cell="unification",
         replace=[("center=gn.center, scale=gn.scale)", "center=True, scale=True)")]),
]

CORRECT = [
    dict(name="ops.var and division by the square root", cell="my_groupnorm",
         replace=[("variance = ops.mean(ops.square(centred), axis=(1, 3), keepdims=True)  # biased",
                   "variance = ops.var(grouped, axis=(1, 3), keepdims=True)"),
                  ("centred * ops.rsqrt(variance + self.epsilon)", "centred / ops.sqrt(variance + self.epsilon)")]),
    dict(name="instance_norm with ops.var, gamma/beta tiled with np.tile", cell="unification",
         replace=[("    variance = ops.mean(ops.square(centred), axis=axes, keepdims=True)\n"
                   "    return centred * ops.rsqrt(variance + epsilon)",
                   "    return centred / ops.sqrt(ops.var(x, axis=axes, keepdims=True) + epsilon)"),
                  ("np.broadcast_to(np.asarray(gn.gamma), (h, w, c))", "np.tile(np.asarray(gn.gamma), (h, w, 1))"),
                  ("np.broadcast_to(np.asarray(gn.beta), (h, w, c))", "np.tile(np.asarray(gn.beta), (h, w, 1))")]),
    dict(name="LayerNormalization over the negative axes [-3, -2, -1]", cell="unification",
         replace=[("keras.layers.LayerNormalization(axis=[1, 2, 3],", "keras.layers.LayerNormalization(axis=[-3, -2, -1],")]),
]
