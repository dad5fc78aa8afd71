"""Plausible wrong answers to tf05 (AdaIN as a channels-last Keras layer); each must lose points."""

_C_MEAN = "c_mean = ops.mean(content, axis=(1, 2), keepdims=True)"
_C_VAR = "c_var = ops.var(content, axis=(1, 2), keepdims=True)"
_S_MEAN = "s_mean = ops.mean(style, axis=(1, 2), keepdims=True)"
_S_STD = "s_std = ops.sqrt(ops.var(style, axis=(1, 2), keepdims=True))"
_OUT = "return s_std * (content - c_mean) / ops.sqrt(c_var + self.eps) + s_mean"


def _axes(axes):
    return [(old, old.replace("axis=(1, 2)", f"axis={axes}")) for old in (_C_MEAN, _C_VAR, _S_MEAN, _S_STD)]


MUTANTS = [
    # Exercise 1: the AdaIN layer
    dict(name="style statistics through a reshape with the static batch size", hint="Your layer reshapes with content.shape[0] / style.shape[0], which is None inside a functional keras.Model, so the layer cannot be used there. Take the statistics with ops.mean/ops.var over axes (1, 2), or use ops.shape for dynamic sizes.", cell="adain_layer",
         replace=[(_S_MEAN, "s_flat = ops.reshape(style, (style.shape[0], -1, style.shape[-1]))\n"
                            "        s_mean = ops.reshape(ops.mean(s_flat, axis=1), (style.shape[0], 1, 1, style.shape[-1]))")]),
    dict(name="style statistics cut off from the gradient (stop_gradient)", hint="Your layer stops the gradient through the style's mean and std, so nothing downstream can train what produced the style features. The values are right; let the gradient flow through every statistic.", cell="adain_layer",
         replace=[(_S_MEAN, "s_mean = ops.stop_gradient(ops.mean(style, axis=(1, 2), keepdims=True))"),
                  (_S_STD, "s_std = ops.stop_gradient(ops.sqrt(ops.var(style, axis=(1, 2), keepdims=True)))")]),
    dict(name="channels-first axes (2, 3) copied from PyTorch", equivalent=['statistics over the channel axis (per position)'], hint="Your statistics are taken over axes 2 and 3, PyTorch's spatial axes. Keras images are channels-last: the spatial axes are 1 and 2.", cell="adain_layer", replace=_axes("(2, 3)")),
    dict(name="statistics over the channel axis (per position)", equivalent=['channels-first axes (2, 3) copied from PyTorch'], hint='Your statistics are taken over the channels at each position. AdaIN takes per-channel statistics over the spatial positions.', cell="adain_layer", replace=_axes("-1")),
    dict(name="statistics over the batch too (0, 1, 2)", hint="Your statistics pool the whole batch. AdaIN uses each sample's own per-channel statistics over its spatial positions.", cell="adain_layer", replace=_axes("(0, 1, 2)")),
    dict(name="unbiased variance for content and style", hint='Your statistics use the unbiased variance (divided by HW-1). Use the biased per-channel variance (divided by HW).', cell="adain_layer",
         replace=[(_C_VAR, _C_VAR + " * (content.shape[1] * content.shape[2]) / (content.shape[1] * content.shape[2] - 1)"),
                  (_S_STD, "s_std = ops.sqrt(ops.var(style, axis=(1, 2), keepdims=True) * (style.shape[1] * style.shape[2])"
                           " / (style.shape[1] * style.shape[2] - 1))")]),
    dict(name="eps outside the square root", hint="Your layer adds eps to the content's standard deviation. Add eps to the content's variance, inside the square root.", cell="adain_layer",
         replace=[("ops.sqrt(c_var + self.eps)", "(ops.sqrt(c_var) + self.eps)")]),
    dict(name="the handout's layer (1e-5 added to both stds, outside the square roots)", hint="Your layer adds a fixed 1e-5 to both standard deviations. Add the layer's eps to the content's variance, inside the square root, and use the style's std as it is.", cell="adain_layer",
         replace=[(_OUT, "return (s_std + 1e-5) * (content - c_mean) / (ops.sqrt(c_var) + 1e-5) + s_mean")]),
    dict(name="eps hard-coded to 1e-5 instead of self.eps", hint="Your layer uses a fixed eps of 1e-5 instead of the layer's own eps. Use the configured value.", cell="adain_layer",
         replace=[("ops.sqrt(c_var + self.eps)", "ops.sqrt(c_var + 1e-5)")]),
    dict(name="content's std used as the scale", hint="Your output is rescaled by the content's standard deviation. AdaIN rescales the normalized content by the STYLE's standard deviation.", cell="adain_layer",
         replace=[("return s_std * (content", "return ops.sqrt(c_var) * (content")]),
    dict(name="content's mean kept as the shift", hint="Your output is shifted by the content's mean. AdaIN shifts the normalized content by the STYLE's mean.", cell="adain_layer",
         replace=[("/ ops.sqrt(c_var + self.eps) + s_mean", "/ ops.sqrt(c_var + self.eps) + c_mean")]),
    dict(name="delegates to keras.layers.GroupNormalization (one group per channel)", hint="Your layer normalizes the content with Keras' built-in GroupNormalization. This exercise asks you to compute the per-channel statistics yourself.", cell="adain_layer",
         replace=[(_OUT, 
                   "norm = keras.layers.GroupNormalization(groups=content.shape[-1], center=False, scale=False, epsilon=self.eps)\n        return s_std * norm(content) + s_mean")]),
    # Exercise 2: style_loss
    dict(name="std without eps (NaN gradient at dead ReLU channels)", hint='Your loss takes square roots of variances without eps; an all-zero channel gives a NaN gradient. Add eps inside the square roots.', cell="style_loss",
         replace=[("g_std = ops.sqrt(ops.var(g, axis=(1, 2)) + eps)", "g_std = ops.sqrt(ops.var(g, axis=(1, 2)))"),
                  ("s_std = ops.sqrt(ops.var(s, axis=(1, 2)) + eps)", "s_std = ops.sqrt(ops.var(s, axis=(1, 2)))")]),
    dict(name="channels-first axes (2, 3)", hint="Your loss takes statistics over axes 2 and 3, PyTorch's spatial axes. Keras features are channels-last: use axes 1 and 2.", cell="style_loss",
         replace=[("axis=(1, 2)", "axis=(2, 3)")]),
    dict(name="statistics pooled over the batch", hint="Your statistics pool the whole batch. Compute each sample's own per-channel statistics over its spatial positions.", cell="style_loss",
         replace=[("axis=(1, 2)", "axis=(0, 1, 2)")]),
    dict(name="variance matched instead of std", hint='Your loss compares variances. The AdaIN style loss compares means and standard deviations.', cell="style_loss",
         replace=[("ops.mean(ops.square(g_std - s_std))", "ops.mean(ops.square(g_std ** 2 - s_std ** 2))")]),
    dict(name="only the last layer counted", hint="Your loss keeps only the last layer's term. Sum the terms of every feature layer.", cell="style_loss",
         replace=[("total = total + ops.mean", "total = ops.mean")]),
    dict(name="sum over channels instead of the mean", hint='Your loss sums over the channels. Use the mean of the squared differences.', cell="style_loss",
         replace=[("ops.mean(ops.square(g_mean - s_mean)) + ops.mean(ops.square(g_std - s_std))",
                   "ops.sum(ops.square(g_mean - s_mean)) + ops.sum(ops.square(g_std - s_std))")]),
]

# Wrong answers that are NOT in the catalogue: each must lose points, and the diagnosis should name none
# (make diagnosis reports how often it does).
UNCATALOGUED = [
    dict(name="content mean never subtracted", cell="adain_layer",
         replace=[(_OUT, "return s_std * content / ops.sqrt(c_var + self.eps) + s_mean")]),
    dict(name="style variance used as the scale (square root forgotten)", cell="adain_layer",
         replace=[(_S_STD, "s_std = ops.var(style, axis=(1, 2), keepdims=True)")]),
    dict(name="absolute differences (L1) instead of squared", cell="style_loss",
         replace=[("ops.mean(ops.square(g_mean - s_mean)) + ops.mean(ops.square(g_std - s_std))",
                   "ops.mean(ops.abs(g_mean - s_mean)) + ops.mean(ops.abs(g_std - s_std))")]),
]

# Correct alternatives: each must keep full marks, and nothing is ever diagnosed for them.
CORRECT = [
    dict(name="variance as the mean squared deviation, style std from ops.std, rsqrt", cell="adain_layer",
         replace=[(_C_VAR, "c_var = ops.mean(ops.square(content - c_mean), axis=(1, 2), keepdims=True)"),
                  (_S_STD, "s_std = ops.std(style, axis=(1, 2), keepdims=True)"),
                  (_OUT, "return (content - c_mean) * ops.rsqrt(c_var + self.eps) * s_std + s_mean")]),
    dict(name="statistics from centred features, per-layer terms summed at the end", cell="style_loss",
         source="""def style_loss(generated, style, eps=1e-5):
    if len(generated) != len(style) or not generated:
        raise ValueError(f"expected two equally long, non-empty lists of features, got {len(generated)} and {len(style)}")
    terms = []
    for g, s in zip(generated, style):
        g_mu = ops.mean(g, axis=(1, 2), keepdims=True)
        s_mu = ops.mean(s, axis=(1, 2), keepdims=True)
        g_std = ops.sqrt(ops.mean(ops.square(g - g_mu), axis=(1, 2)) + eps)
        s_std = ops.sqrt(ops.mean(ops.square(s - s_mu), axis=(1, 2)) + eps)
        terms.append(ops.mean(ops.square(g_mu - s_mu)) + ops.mean(ops.square(g_std - s_std)))
    return ops.sum(ops.stack(terms))
"""),
]
