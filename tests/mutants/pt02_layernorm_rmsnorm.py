"""Plausible wrong answers to pt02 (LayerNorm, RMSNorm, FLOPs, mixed precision); each must lose points."""

MUTANTS = [
    # Exercise 1: MyLayerNorm
    dict(name="unbiased variance", hint='Your LayerNorm uses the unbiased variance (divided by D-1). LayerNorm normalizes with the biased variance over the features (divided by D).', cell="my_layernorm",
         replace=[("var = (centred * centred).mean(dim=-1, keepdim=True)",
                   "var = x.var(dim=-1, unbiased=True, keepdim=True)")]),
    dict(name="eps outside the square root", hint='Your layer adds eps to the standard deviation. LayerNorm adds eps to the variance, inside the square root.', cell="my_layernorm",
         replace=[("y = centred * torch.rsqrt(var + self.eps)", "y = centred / (torch.sqrt(var) + self.eps)")]),
    dict(name="statistics over every axis but the batch", hint='Your statistics are taken over every axis except the batch. LayerNorm with a 1-D normalized_shape normalizes each token over its last axis only.', cell="my_layernorm",
         replace=[("centred = x - x.mean(dim=-1, keepdim=True)",
                   "dims = tuple(range(1, x.dim())) if x.dim() > 1 else (-1,)\n        centred = x - x.mean(dim=dims, keepdim=True)"),
                  ("var = (centred * centred).mean(dim=-1, keepdim=True)",
                   "var = (centred * centred).mean(dim=dims, keepdim=True)")]),
    dict(name="bias registered even when bias=False", hint='Your layer creates a bias even when bias=False was asked. Then the layer must have no bias parameter at all (register it as None).', cell="my_layernorm",
         replace=[('                self.register_parameter("bias", None)',
                   "                self.bias = nn.Parameter(torch.zeros(normalized_shape))")]),
    dict(name="weight and bias as plain tensors", hint='Your weight and bias are plain tensors, so they are not trained and not in parameters(). Register them as nn.Parameter.', cell="my_layernorm",
         replace=[("self.weight = nn.Parameter(torch.ones(normalized_shape))", "self.weight = torch.ones(normalized_shape)"),
                  ("self.bias = nn.Parameter(torch.zeros(normalized_shape))", "self.bias = torch.zeros(normalized_shape)")]),
    dict(name="delegates to F.layer_norm", equivalent=['delegates to torch.native_layer_norm', 'delegates to torch.ops.aten.layer_norm', 'wraps an nn.LayerNorm inside forward'], hint="Your layer calls PyTorch's built-in layer norm. This exercise asks you to compute the mean and variance yourself.", cell="my_layernorm",
         replace=[("        centred = x - x.mean(dim=-1, keepdim=True)\n",
                   "        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)\n")]),
    dict(name="delegates to torch.native_layer_norm", equivalent=['delegates to F.layer_norm', 'delegates to torch.ops.aten.layer_norm', 'wraps an nn.LayerNorm inside forward'], hint="Your layer calls PyTorch's built-in layer norm kernel. This exercise asks you to compute the mean and variance yourself.", cell="my_layernorm",
         replace=[("        centred = x - x.mean(dim=-1, keepdim=True)\n",
                   "        return torch.native_layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)[0]\n")]),
    dict(name="delegates to torch.ops.aten.layer_norm", equivalent=['delegates to F.layer_norm', 'delegates to torch.native_layer_norm', 'wraps an nn.LayerNorm inside forward'], hint="Your layer calls PyTorch's built-in layer norm operator. This exercise asks you to compute the mean and variance yourself.", cell="my_layernorm",
         replace=[("        centred = x - x.mean(dim=-1, keepdim=True)\n",
                   "        return torch.ops.aten.layer_norm(x, list(self.normalized_shape), self.weight, self.bias, self.eps)\n")]),
    dict(name="wraps an nn.LayerNorm inside forward", equivalent=['delegates to F.layer_norm', 'delegates to torch.native_layer_norm', 'delegates to torch.ops.aten.layer_norm'], hint="Your layer builds PyTorch's LayerNorm inside forward. This exercise asks you to compute the mean and variance yourself.", cell="my_layernorm",
         replace=[("        centred = x - x.mean(dim=-1, keepdim=True)\n",
                   "        inner = nn.LayerNorm(self.normalized_shape[0], eps=self.eps, elementwise_affine=False).to(x.dtype)\n"
                   "        y = inner(x)\n        y = y * self.weight if self.weight is not None else y\n"
                   "        return y + self.bias if self.bias is not None else y\n")]),
    # Exercise 2: MyRMSNorm
    dict(name="subtracts the mean (LayerNorm without bias)", hint='Your RMSNorm subtracts the mean first, which makes it LayerNorm without a bias. RMSNorm does not centre: it divides by the root mean square of the raw features.', cell="my_rmsnorm",
         replace=[("y = x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)",
                   "c = x - x.mean(dim=-1, keepdim=True)\n        y = c * torch.rsqrt(c.pow(2).mean(dim=-1, keepdim=True) + self.eps)")]),
    dict(name="divides by the L2 norm instead of the RMS", hint='Your RMSNorm divides by the L2 norm (sum of squares) instead of the root MEAN square, so outputs shrink by sqrt(D). Average the squares over the features.', cell="my_rmsnorm",
         replace=[("x.pow(2).mean(dim=-1, keepdim=True)", "x.pow(2).sum(dim=-1, keepdim=True)")]),
    dict(name="eps outside the square root", hint='Your RMSNorm adds eps to the root mean square. RMSNorm adds eps to the mean of the squares, inside the square root.', cell="my_rmsnorm",
         replace=[("y = x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)",
                   "y = x / (x.pow(2).mean(dim=-1, keepdim=True).sqrt() + self.eps)")]),
    dict(name="delegates to F.rms_norm", equivalent=['delegates to torch.ops.aten.rms_norm'], hint="Your layer calls PyTorch's built-in RMS norm. This exercise asks you to compute the root mean square yourself.", cell="my_rmsnorm",
         replace=[("        y = x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)\n",
                   "        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)\n")]),
    dict(name="delegates to torch.ops.aten.rms_norm", equivalent=['delegates to F.rms_norm'], hint="Your layer calls PyTorch's built-in RMS norm operator. This exercise asks you to compute the root mean square yourself.", cell="my_rmsnorm",
         replace=[("        y = x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)\n",
                   "        return torch.ops.aten.rms_norm(x, list(self.normalized_shape), self.weight, self.eps)\n")]),
    dict(name="weight is not a parameter", hint='Your RMSNorm weight is a plain tensor, so it is never trained. Register it as an nn.Parameter.', cell="my_rmsnorm",
         replace=[("self.weight = nn.Parameter(torch.ones(normalized_shape))", "self.weight = torch.ones(normalized_shape)")]),
    # Exercise 3: flops_per_token
    dict(name="affine step forgotten", hint='Your count leaves out the elementwise affine step (the scale, and for LayerNorm the shift), which costs operations per feature when elementwise_affine is on.', cell="flops_per_token",
         replace=[("(2 * d if elementwise_affine else 0)", "0"), ("(d if elementwise_affine else 0)", "0")]),
    dict(name="mean counted as D - 1 adds only", hint='Your LayerNorm count takes each mean over D numbers as D-1 additions only. Under the counting convention a mean also costs its division, D FLOPs in all, and LayerNorm takes two means per token.', cell="flops_per_token",
         replace=[("return 5 * d + 3 + (2 * d", "return 5 * d + 1 + (2 * d")]),
    dict(name="returns a float", hint='Your function returns a float. A count of operations is an integer: return an int.', cell="flops_per_token",
         replace=[("    return 3 * d + 3 + (d if elementwise_affine else 0)",
                   "    return 3.0 * d + 3 + (d if elementwise_affine else 0)"),
                  ("return 5 * d + 3 + (2 * d", "return 5.0 * d + 3 + (2 * d")]),
    # Exercise 4: normalize_fp32_stats
    dict(name="statistics left in the input's dtype", hint="Your function computes the statistics in the input's 16-bit dtype. Upcast to float32 first and compute the mean square there.", cell="normalize_fp32_stats",
         replace=[("h = x.to(torch.float32)", "h = x")]),
    dict(name="returns float32", hint="Your function returns float32. After computing in float32 it must cast the result back to the input's dtype.", cell="normalize_fp32_stats",
         replace=[("return h.to(x.dtype)", "return h")]),
    dict(name="casts back before the weight (weight applied in 16 bits)", hint='Your function casts back to 16 bits before applying the weight and bias. Apply them in float32 and cast back only at the end.', cell="normalize_fp32_stats",
         replace=[("    if weight is not None:\n        h = h * weight.to(torch.float32)\n",
                   "    h = h.to(x.dtype)\n    if weight is not None:\n        h = h * weight\n"),
                  ("        h = h + bias.to(torch.float32)", "        h = h + bias")]),
    dict(name="upcasts only for the mean, squares in 16 bits", hint='Your function squares the values in 16 bits and upcasts only for the mean, so the squares can overflow or lose precision. Upcast before squaring.', cell="normalize_fp32_stats",
         replace=[("h = h * torch.rsqrt(h.pow(2).mean(dim=-1, keepdim=True) + eps)",
                   "h = h * torch.rsqrt(h.to(x.dtype).pow(2).float().mean(dim=-1, keepdim=True) + eps)")]),
]

# Wrong answers that are NOT in the catalogue: each must lose points, and the diagnosis should name none
# (make diagnosis reports how often it does).
UNCATALOGUED = [
    dict(name='weight initialized to zeros', cell='my_layernorm',
         replace=[('self.weight = nn.Parameter(torch.ones(normalized_shape))', 'self.weight = nn.Parameter(torch.zeros(normalized_shape))')]),
    dict(name='square root forgotten (divides by the mean square)', cell='my_rmsnorm',
         replace=[('y = x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)', 'y = x / (x.pow(2).mean(dim=-1, keepdim=True) + self.eps)')]),
    dict(name='affine step counted once per token', cell='flops_per_token',
         replace=[('(2 * d if elementwise_affine else 0)', '(2 if elementwise_affine else 0)')]),
]

# Correct alternatives: each must keep full marks, and nothing is ever diagnosed for them.
CORRECT = [
    dict(name='float() instead of .to(torch.float32)', cell='normalize_fp32_stats',
         replace=[('h = x.to(torch.float32)', 'h = x.float()')]),
    dict(name='RMSNorm divides by the square root of the mean of x * x', cell='my_rmsnorm',
         replace=[('y = x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)',
                   'y = x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + self.eps)')]),
]
