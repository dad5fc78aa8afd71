"""Plausible wrong answers to pt05 (AdaIN style transfer); each must lose points."""

MUTANTS = [
    # Exercise 1: adain
    dict(name="content statistics through .view (contiguous inputs only)", hint="Your adain flattens the content with .view, which fails for a channels_last or transposed tensor. Take the statistics with mean/var over dim=(2, 3), or use .reshape.", cell="adain",
         replace=[("    c_mean = content.mean(dim=(2, 3), keepdim=True)\n    c_var = content.var(dim=(2, 3), keepdim=True, unbiased=False)\n",
                   "    flat = content.view(content.shape[0], content.shape[1], -1)\n"
                   "    c_mean = flat.mean(dim=2)[..., None, None]\n    c_var = flat.var(dim=2, unbiased=False)[..., None, None]\n")]),
    dict(name="unbiased variance for content and style (the pytorch-AdaIN port's var)", hint='Your statistics use the unbiased variance (divided by HW-1). AdaIN here uses the biased per-channel variance over the spatial positions (divided by HW).', cell="adain",
         replace=[("c_var = content.var(dim=(2, 3), keepdim=True, unbiased=False)",
                   "c_var = content.var(dim=(2, 3), keepdim=True, unbiased=True)"),
                  ("s_std = style.var(dim=(2, 3), keepdim=True, unbiased=False).sqrt()",
                   "s_std = style.var(dim=(2, 3), keepdim=True, unbiased=True).sqrt()")]),
    dict(name="unbiased std for the style only", hint='Your style standard deviation is unbiased (divided by HW-1). Use the biased variance for the style too, as for the content.', cell="adain",
         replace=[("s_std = style.var(dim=(2, 3), keepdim=True, unbiased=False).sqrt()",
                   "s_std = style.std(dim=(2, 3), keepdim=True)")]),
    dict(name="eps outside the square root (the Keras handout's placement)", hint="Your layer adds eps to the content's standard deviation. Add eps to the content's variance, inside the square root.", cell="adain",
         replace=[("torch.sqrt(c_var + eps)", "(torch.sqrt(c_var) + eps)")]),
    dict(name="eps also added to the style's variance", hint="Your layer adds eps to the style's variance too. Only the content's denominator needs eps; the style's standard deviation is used as it is.", cell="adain",
         replace=[("s_std = style.var(dim=(2, 3), keepdim=True, unbiased=False).sqrt()",
                   "s_std = (style.var(dim=(2, 3), keepdim=True, unbiased=False) + eps).sqrt()")]),
    dict(name="eps hard-coded to 1e-5", hint='Your function ignores its eps argument and uses a fixed value. Use the eps passed in.', cell="adain",
         replace=[("torch.sqrt(c_var + eps)", "torch.sqrt(c_var + 1e-5)")]),
    dict(name="statistics over the batch too (per-batch, not per-sample)", hint="Your statistics pool the whole batch. AdaIN uses each sample's own per-channel statistics over its spatial positions.", cell="adain",
         replace=[("c_mean = content.mean(dim=(2, 3), keepdim=True)", "c_mean = content.mean(dim=(0, 2, 3), keepdim=True)"),
                  ("c_var = content.var(dim=(2, 3), keepdim=True, unbiased=False)",
                   "c_var = content.var(dim=(0, 2, 3), keepdim=True, unbiased=False)"),
                  ("s_mean = style.mean(dim=(2, 3), keepdim=True)", "s_mean = style.mean(dim=(0, 2, 3), keepdim=True)"),
                  ("s_std = style.var(dim=(2, 3), keepdim=True, unbiased=False).sqrt()",
                   "s_std = style.var(dim=(0, 2, 3), keepdim=True, unbiased=False).sqrt()")]),
    dict(name="statistics over the channels (per position) instead of over space", hint='Your statistics are taken over the channels at each position. AdaIN takes per-channel statistics over the spatial positions (H and W).', cell="adain",
         replace=[("content.mean(dim=(2, 3), keepdim=True)", "content.mean(dim=1, keepdim=True)"),
                  ("content.var(dim=(2, 3), keepdim=True, unbiased=False)", "content.var(dim=1, keepdim=True, unbiased=False)"),
                  ("style.mean(dim=(2, 3), keepdim=True)", "style.mean(dim=1, keepdim=True).mean(dim=(2, 3), keepdim=True)"),
                  ("style.var(dim=(2, 3), keepdim=True, unbiased=False)",
                   "style.var(dim=1, keepdim=True, unbiased=False).mean(dim=(2, 3), keepdim=True)")]),
    dict(name="content's std used as the scale (style std never used)", hint="Your output is rescaled by the content's standard deviation. AdaIN rescales the normalized content by the STYLE's standard deviation.", cell="adain",
         replace=[("return s_std * (content - c_mean)", "return c_var.sqrt() * (content - c_mean)")]),
    dict(name="mean and std of the style swapped", hint="Your output scales by the style's mean and shifts by its standard deviation. AdaIN scales by the style's std and shifts by the style's mean.", cell="adain",
         replace=[("return s_std * (content - c_mean) / torch.sqrt(c_var + eps) + s_mean",
                   "return s_mean * (content - c_mean) / torch.sqrt(c_var + eps) + s_std")]),
    dict(name="calls the built-in F.instance_norm", equivalent=["calls torch.ops.aten.instance_norm through an alias"], hint="Your function calls PyTorch's built-in instance norm. This exercise asks you to compute the per-channel statistics yourself.", cell="adain",
         replace=[("return s_std * (content - c_mean) / torch.sqrt(c_var + eps) + s_mean",
                   "n, c = content.shape[:2]\n    return F.instance_norm(content.reshape(1, n * c, *content.shape[2:]), "
                   "weight=s_std.reshape(-1), bias=s_mean.reshape(-1), eps=eps).reshape(content.shape)")]),
    dict(name="calls torch.ops.aten.instance_norm through an alias", equivalent=["calls the built-in F.instance_norm"], hint="Your function calls PyTorch's instance-norm operator (through another name). This exercise asks you to compute the per-channel statistics yourself.", cell="adain",
         replace=[("return s_std * (content - c_mean) / torch.sqrt(c_var + eps) + s_mean",
                   "norm = torch.ops.aten.instance_norm\n    n, c = content.shape[:2]\n    return norm(content.reshape(1, n * c, *content.shape[2:]), s_std.reshape(-1), s_mean.reshape(-1), None, None, True, 0.1, eps, False).reshape(content.shape)")]),
    dict(name="statistics detached from autograd", hint='Your style statistics are detached, so no gradient flows back to the style features. Keep them in the graph.', cell="adain",
         replace=[("s_std = style.var(dim=(2, 3), keepdim=True, unbiased=False).sqrt()",
                   "s_std = style.var(dim=(2, 3), keepdim=True, unbiased=False).sqrt().detach()"),
                  ("s_mean = style.mean(dim=(2, 3), keepdim=True)", "s_mean = style.mean(dim=(2, 3), keepdim=True).detach()")]),
    # Exercise 2: style_loss
    dict(name="std without eps (NaN gradient at dead ReLU channels)", hint='Your loss takes square roots of variances without eps; a channel that is all zero (a dead ReLU) gives a NaN gradient. Add eps inside the square roots.', cell="style_loss",
         replace=[("torch.sqrt(g_var + eps), torch.sqrt(s_var + eps)", "torch.sqrt(g_var), torch.sqrt(s_var)")]),
    dict(name="unbiased variance", hint='Your style loss uses the unbiased variance. Use the biased per-channel variance over the spatial positions.', cell="style_loss",
         replace=[("torch.var_mean(g, dim=(2, 3), correction=0)", "torch.var_mean(g, dim=(2, 3), correction=1)"),
                  ("torch.var_mean(s, dim=(2, 3), correction=0)", "torch.var_mean(s, dim=(2, 3), correction=1)")]),
    dict(name="variance matched instead of std", hint='Your loss compares variances. The AdaIN style loss compares means and standard deviations.', cell="style_loss",
         replace=[("F.mse_loss(torch.sqrt(g_var + eps), torch.sqrt(s_var + eps))", "F.mse_loss(g_var + eps, s_var + eps)")]),
    dict(name="only the last layer counted", hint="Your loss keeps only the last layer's term. Sum the terms of every feature layer.", cell="style_loss",
         replace=[("total = total + F.mse_loss", "total = F.mse_loss")]),
    dict(name="statistics pooled over the batch", hint="Your statistics pool the whole batch. Compute each sample's own per-channel statistics over its spatial positions.", cell="style_loss",
         replace=[("torch.var_mean(g, dim=(2, 3), correction=0)", "torch.var_mean(g, dim=(0, 2, 3), correction=0)"),
                  ("torch.var_mean(s, dim=(2, 3), correction=0)", "torch.var_mean(s, dim=(0, 2, 3), correction=0)")]),
    dict(name="sum of squared errors instead of the mean", hint="Your loss sums the squared differences. Each term is a mean squared error: average the squared differences over the samples and channels.", cell="style_loss",
         replace=[("F.mse_loss(g_mean, s_mean) + F.mse_loss(torch.sqrt(g_var + eps), torch.sqrt(s_var + eps))",
                   "F.mse_loss(g_mean, s_mean, reduction='sum') + F.mse_loss(torch.sqrt(g_var + eps), "
                   "torch.sqrt(s_var + eps), reduction='sum')")]),
    dict(name="means only, no std term", hint='Your loss compares only the means. The AdaIN style loss also compares the per-channel standard deviations.', cell="style_loss",
         replace=[(" + F.mse_loss(torch.sqrt(g_var + eps), torch.sqrt(s_var + eps))", "")]),
]

# Wrong answers that are NOT in the catalogue: each must lose points, and the diagnosis should name none
# (make diagnosis reports how often it does).
UNCATALOGUED = [
    dict(name="content mean never subtracted", cell="adain",
         replace=[("return s_std * (content - c_mean) / torch.sqrt(c_var + eps) + s_mean",
                   "return s_std * content / torch.sqrt(c_var + eps) + s_mean")]),
    dict(name="style variance used as the scale (square root forgotten)", cell="adain",
         replace=[("s_std = style.var(dim=(2, 3), keepdim=True, unbiased=False).sqrt()",
                   "s_std = style.var(dim=(2, 3), keepdim=True, unbiased=False)")]),
    dict(name="content divided by its variance, not its std", cell="adain",
         replace=[("/ torch.sqrt(c_var + eps)", "/ (c_var + eps)")]),
    dict(name="standard deviations only, no mean term", cell="style_loss",
         replace=[("F.mse_loss(g_mean, s_mean) + ", "")]),
    dict(name="absolute differences (L1) instead of squared", cell="style_loss",
         replace=[("F.mse_loss(g_mean, s_mean) + F.mse_loss(torch.sqrt(g_var + eps), torch.sqrt(s_var + eps))",
                   "F.l1_loss(g_mean, s_mean) + F.l1_loss(torch.sqrt(g_var + eps), torch.sqrt(s_var + eps))")]),
    dict(name="layers averaged instead of summed", cell="style_loss",
         replace=[("    return total\n", "    return total / len(generated)\n")]),
]

# Correct alternatives: each must keep full marks, and nothing is ever diagnosed for them.
CORRECT = [
    dict(name="variance as the mean squared deviation, std via std(unbiased=False), rsqrt", cell="adain",
         replace=[("c_var = content.var(dim=(2, 3), keepdim=True, unbiased=False)",
                   "c_var = ((content - c_mean) ** 2).mean(dim=(2, 3), keepdim=True)"),
                  ("s_std = style.var(dim=(2, 3), keepdim=True, unbiased=False).sqrt()",
                   "s_std = style.std(dim=(2, 3), keepdim=True, unbiased=False)"),
                  ("return s_std * (content - c_mean) / torch.sqrt(c_var + eps) + s_mean",
                   "return (content - c_mean) * torch.rsqrt(c_var + eps) * s_std + s_mean")]),
    dict(name="explicit squared-difference means with var(unbiased=False)", cell="style_loss",
         source="""def style_loss(generated: list, style: list, eps: float = 1e-5) -> torch.Tensor:
    if len(generated) != len(style) or not generated:
        raise ValueError(f"expected two equally long, non-empty lists of features, got {len(generated)} and {len(style)}")
    losses = []
    for g, s in zip(generated, style):
        g_mean, s_mean = g.mean(dim=(2, 3)), s.mean(dim=(2, 3))
        g_std = (g.var(dim=(2, 3), unbiased=False) + eps).sqrt()
        s_std = (s.var(dim=(2, 3), unbiased=False) + eps).sqrt()
        losses.append(((g_mean - s_mean) ** 2).mean() + ((g_std - s_std) ** 2).mean())
    return torch.stack(losses).sum()
"""),
]
