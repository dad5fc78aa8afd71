"""Plausible wrong answers to pt04 (MyGroupNorm, GroupNorm as InstanceNorm/LayerNorm, the norm_layer factory)."""

MUTANTS = [
    # Exercise 1: MyGroupNorm
    dict(name="view instead of reshape (contiguous inputs only)", hint="Your layer uses .view on the input, which fails for a channels_last or transposed tensor (nn.GroupNorm accepts both). Use .reshape, which copies only when it must.", cell="my_groupnorm",
         replace=[("grouped = x.reshape(x.shape[0], self.num_groups, -1)", "grouped = x.view(x.shape[0], self.num_groups, -1)")]),
    dict(name="unbiased variance", hint='Your GroupNorm uses the unbiased variance (divided by n-1). GroupNorm normalizes with the biased variance over each group (divided by n).', cell="my_groupnorm",
         replace=[("var = (centred * centred).mean(dim=-1, keepdim=True)",
                   "var = grouped.var(dim=-1, unbiased=True, keepdim=True)")]),
    dict(name="eps outside the square root", hint='Your layer adds eps to the standard deviation. GroupNorm adds eps to the variance, inside the square root.', cell="my_groupnorm",
         replace=[("y = (centred * torch.rsqrt(var + self.eps)).reshape(x.shape)",
                   "y = (centred / (torch.sqrt(var) + self.eps)).reshape(x.shape)")]),
    dict(name="groups formed from non-adjacent channels (channel c in group c % G)", hint="Your groups interleave the channels (channel c in group c mod G). GroupNorm's groups are blocks of C/G adjacent channels.", cell="my_groupnorm",
         replace=[("grouped = x.reshape(x.shape[0], self.num_groups, -1)",
                   "grouped = x.reshape(x.shape[0], -1, self.num_groups, *x.shape[2:]).transpose(1, 2)"
                   ".reshape(x.shape[0], self.num_groups, -1)"),
                  ("y = (centred * torch.rsqrt(var + self.eps)).reshape(x.shape)",
                   "y = (centred * torch.rsqrt(var + self.eps)).reshape(x.shape[0], self.num_groups, -1, *x.shape[2:])"
                   ".transpose(1, 2).reshape(x.shape)")]),
    dict(name="statistics over the group's channels per position (spatial axes forgotten)", hint="Your statistics are taken over the group's channels at each position. GroupNorm averages over the group's channels AND every spatial position.", cell="my_groupnorm",
         replace=[("grouped = x.reshape(x.shape[0], self.num_groups, -1)",
                   "grouped = x.reshape(x.shape[0], self.num_groups, self.num_channels // self.num_groups, -1)"),
                  ("centred = grouped - grouped.mean(dim=-1, keepdim=True)",
                   "centred = grouped - grouped.mean(dim=2, keepdim=True)"),
                  ("var = (centred * centred).mean(dim=-1, keepdim=True)",
                   "var = (centred * centred).mean(dim=2, keepdim=True)")]),
    dict(name="statistics shared across the batch (BatchNorm-like groups)", hint="Your statistics pool the batch. GroupNorm computes each sample's statistics on its own, which is why it does not depend on the batch size.", cell="my_groupnorm",
         replace=[("centred = grouped - grouped.mean(dim=-1, keepdim=True)",
                   "centred = grouped - grouped.mean(dim=(0, 2), keepdim=True)"),
                  ("var = (centred * centred).mean(dim=-1, keepdim=True)",
                   "var = (centred * centred).mean(dim=(0, 2), keepdim=True)")]),
    dict(name="affine parameters per group instead of per channel", hint="Your weight and bias have one value per group. GroupNorm's affine parameters have one value per channel.", cell="my_groupnorm",
         replace=[("self.weight = nn.Parameter(torch.ones(num_channels))", "self.weight = nn.Parameter(torch.ones(num_groups))"),
                  ("self.bias = nn.Parameter(torch.zeros(num_channels))", "self.bias = nn.Parameter(torch.zeros(num_groups))"),
                  ("y = (centred * torch.rsqrt(var + self.eps)).reshape(x.shape)",
                   "y = centred * torch.rsqrt(var + self.eps)\n"
                   "        if self.weight is not None:\n"
                   "            y = y * self.weight.reshape(1, -1, 1) + self.bias.reshape(1, -1, 1)\n"
                   "        return y.reshape(x.shape)")]),
    dict(name="bias forgotten", hint='Your layer applies the weight but never adds the bias. Add the per-channel bias after scaling.', cell="my_groupnorm",
         replace=[("y = y * self.weight.reshape(per_channel) + self.bias.reshape(per_channel)",
                   "y = y * self.weight.reshape(per_channel)")]),
    dict(name="divisibility not checked", hint='Your layer accepts a number of channels that the number of groups does not divide. Raise a ValueError that names both numbers.', cell="my_groupnorm",
         replace=[('raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")',
                   "pass")]),
    dict(name="written for 4-D inputs only", hint="Your layer works only for 4-D inputs. GroupNorm accepts (N, C, *) inputs of any rank: broadcast the per-channel parameters to the input's rank.", cell="my_groupnorm",
         replace=[("per_channel = (1, self.num_channels) + (1,) * (x.dim() - 2)", "per_channel = (1, self.num_channels, 1, 1)")]),
    dict(name="delegates to F.group_norm", equivalent=['delegates to torch.ops.aten.native_group_norm', 'wraps an nn.GroupNorm inside forward'], hint="Your layer calls PyTorch's built-in group norm. This exercise asks you to compute the group statistics yourself.", cell="my_groupnorm",
         replace=[("        grouped = x.reshape(x.shape[0], self.num_groups, -1)  # group g: C/G adjacent channels x all positions\n",
                   "        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)\n")]),
    dict(name="delegates to torch.ops.aten.native_group_norm", equivalent=['delegates to F.group_norm', 'wraps an nn.GroupNorm inside forward'], hint="Your layer calls PyTorch's built-in group norm operator. This exercise asks you to compute the group statistics yourself.", cell="my_groupnorm",
         replace=[("        grouped = x.reshape(x.shape[0], self.num_groups, -1)  # group g: C/G adjacent channels x all positions\n",
                   "        n, c = x.shape[:2]\n"
                   "        return torch.ops.aten.native_group_norm(x, self.weight, self.bias, n, c, x[0, 0].numel(), "
                   "self.num_groups, self.eps)[0]\n")]),
    dict(name="wraps an nn.GroupNorm inside forward", equivalent=['delegates to F.group_norm', 'delegates to torch.ops.aten.native_group_norm'], hint="Your layer builds PyTorch's GroupNorm inside forward. This exercise asks you to compute the group statistics yourself.", cell="my_groupnorm",
         replace=[("        grouped = x.reshape(x.shape[0], self.num_groups, -1)  # group g: C/G adjacent channels x all positions\n",
                   "        inner = nn.GroupNorm(self.num_groups, self.num_channels, eps=self.eps, affine=False).to(x.dtype)\n"
                   "        y = inner(x)\n"
                   "        if self.weight is None:\n            return y\n"
                   "        shape = (1, -1) + (1,) * (x.dim() - 2)\n"
                   "        return y * self.weight.reshape(shape) + self.bias.reshape(shape)\n")]),
    # Exercise 2: GroupNorm as InstanceNorm / LayerNorm
    dict(name="InstanceNorm2d keeps running statistics (differs in eval mode)", hint='Your InstanceNorm2d tracks running statistics, so in eval mode it normalizes with them and no longer equals GroupNorm. Build it without running statistics.', cell="unification",
         replace=[("affine=gn.affine, track_running_stats=False)", "affine=gn.affine, track_running_stats=True)")]),
    dict(name="InstanceNorm2d with its default eps", hint="Your InstanceNorm2d uses its default eps instead of the GroupNorm's. Copy the eps over.", cell="unification",
         replace=[("nn.InstanceNorm2d(gn.num_channels, eps=gn.eps,", "nn.InstanceNorm2d(gn.num_channels,")]),
    dict(name="InstanceNorm2d without affine (the handout's affine=False)", hint="Your InstanceNorm2d has no affine parameters, so a GroupNorm with a learned weight and bias is not reproduced. Match gn's affine setting and copy its parameters.", cell="unification",
         replace=[("nn.InstanceNorm2d(gn.num_channels, eps=gn.eps, affine=gn.affine,", "nn.InstanceNorm2d(gn.num_channels, eps=gn.eps, affine=False,"),
                  ("    if gn.affine:\n        with torch.no_grad():\n            inorm.weight", "    if False:\n        with torch.no_grad():\n            inorm.weight")]),
    dict(name="returns an nn.GroupNorm copy instead of an InstanceNorm2d", hint='Your function returns a copy of the GroupNorm. The exercise asks for the equivalent InstanceNorm2d layer.', cell="unification",
         replace=[("    inorm = nn.InstanceNorm2d(gn.num_channels, eps=gn.eps, affine=gn.affine, track_running_stats=False)\n",
                   "    inorm = copy.deepcopy(gn)\n")]),
    dict(name="shares gn's parameter tensors", hint="Your new layer shares gn's parameter tensors, so training one changes the other. Copy the values into the new layer's own parameters.", cell="unification",
         replace=[("            inorm.weight.copy_(gn.weight)\n            inorm.bias.copy_(gn.bias)\n",
                   "            pass\n        inorm.weight, inorm.bias = gn.weight, gn.bias\n")]),
    dict(name="LayerNorm weight tiled in the wrong order (per position, not per channel)", hint="Your LayerNorm weight repeats the channel values in the wrong order. Each channel's weight must fill that channel's whole H x W plane.", cell="unification",
         replace=[("ln.weight.copy_(gn.weight.reshape(c, 1, 1).expand(c, h, w))", "ln.weight.copy_(gn.weight.repeat(h * w).reshape(c, h, w))"),
                  ("ln.bias.copy_(gn.bias.reshape(c, 1, 1).expand(c, h, w))", "ln.bias.copy_(gn.bias.repeat(h * w).reshape(c, h, w))")]),
    dict(name="LayerNorm keeps its initial weight and bias (affine not mapped)", hint="Your LayerNorm keeps its initial weight and bias, so a trained GroupNorm's affine step is lost. Copy gn's per-channel weight and bias to every position.", cell="unification",
         replace=[("            ln.weight.copy_(gn.weight.reshape(c, 1, 1).expand(c, h, w))\n            ln.bias.copy_(gn.bias.reshape(c, 1, 1).expand(c, h, w))\n",
                   "            pass\n")]),
    dict(name="LayerNorm over (H, W) swapped", hint="Your LayerNorm's shape swaps height and width. Use (C, H, W) in that order.", cell="unification",
         replace=[("    h, w = spatial_shape\n", "    w, h = spatial_shape\n")]),
    dict(name="LayerNorm with its default eps", hint="Your LayerNorm uses its default eps instead of the GroupNorm's. Copy the eps over.", cell="unification",
         replace=[("ln = nn.LayerNorm([c, h, w], eps=gn.eps, elementwise_affine=gn.affine)", "ln = nn.LayerNorm([c, h, w], elementwise_affine=gn.affine)")]),
    dict(name="no check of num_groups == num_channels", hint='Your function converts a GroupNorm that is not one group per channel. Raise a ValueError when num_groups differs from num_channels.', cell="unification",
         replace=[("    if gn.num_groups != gn.num_channels:\n        raise ValueError", "    if False:\n        raise ValueError")]),
    # Exercise 3: the norm_layer factory
    dict(name="silently falls back to fewer groups", hint='Your factory silently uses fewer groups when the channels are not divisible. Raise a ValueError instead of changing what was asked.', cell="norm_factory",
         replace=[("            if num_channels % num_groups != 0:\n                raise ValueError(",
                   "            if num_channels % num_groups != 0:\n                return nn.GroupNorm(math.gcd(num_groups, num_channels), num_channels)\n                raise ValueError(")]),
    dict(name="groups of 32 channels instead of 32 groups", hint='Your factory builds groups of num_groups channels each. num_groups is the number of groups; each holds num_channels / num_groups channels.', cell="norm_factory",
         replace=[("            return nn.GroupNorm(num_groups, num_channels)", "            return nn.GroupNorm(num_channels // num_groups, num_channels)")]),
    dict(name="'gn' builds BatchNorm too", hint="Your factory returns BatchNorm for 'gn'. 'gn' must build a GroupNorm layer.", cell="norm_factory",
         replace=[("            return nn.GroupNorm(num_groups, num_channels)", "            return nn.BatchNorm2d(num_channels)")]),
    dict(name="GroupNorm(1): LayerNorm-like", hint='Your factory builds GroupNorm with a single group, which normalizes over all channels like LayerNorm. Use the requested number of groups.', cell="norm_factory",
         replace=[("            return nn.GroupNorm(num_groups, num_channels)", "            return nn.GroupNorm(1, num_channels)")]),
    dict(name="unknown kind falls back to BatchNorm", hint='Your factory accepts an unknown kind and returns BatchNorm. Raise a ValueError that names the kind received.', cell="norm_factory",
         replace=[('    raise ValueError(f"kind must be \'bn\' or \'gn\', got {kind!r}")', "    return lambda num_channels: nn.BatchNorm2d(num_channels)")]),
    dict(name="one layer shared by every call", hint='Your factory returns the same layer object for every call with the same channel count, so layers share parameters. Build a new layer each time.', cell="norm_factory",
         replace=[("        return lambda num_channels: nn.BatchNorm2d(num_channels)\n    if kind == \"gn\":\n",
                   "        return lambda num_channels: nn.BatchNorm2d(num_channels)\n    if kind == \"gn\":\n        cache = {}\n"),
                  ("            return nn.GroupNorm(num_groups, num_channels)", "            return cache.setdefault(num_channels, nn.GroupNorm(num_groups, num_channels))")]),
    dict(name="BatchNorm with Keras' momentum/eps", hint="Your BatchNorm uses Keras-style momentum and epsilon. In PyTorch, keep BatchNorm2d's own defaults.", cell="norm_factory",
         replace=[("return lambda num_channels: nn.BatchNorm2d(num_channels)", "return lambda num_channels: nn.BatchNorm2d(num_channels, eps=1e-3, momentum=0.01)")]),
]

UNCATALOGUED = [
    # Exercise 1: MyGroupNorm
    dict(name="divides by the variance (square root forgotten)", cell="my_groupnorm",
         replace=[("y = (centred * torch.rsqrt(var + self.eps)).reshape(x.shape)",
                   "y = (centred / (var + self.eps)).reshape(x.shape)")]),
    dict(name="weight starts at zeros and bias at ones", cell="my_groupnorm",
         replace=[("self.weight = nn.Parameter(torch.ones(num_channels))", "self.weight = nn.Parameter(torch.zeros(num_channels))"),
                  ("self.bias = nn.Parameter(torch.zeros(num_channels))", "self.bias = nn.Parameter(torch.ones(num_channels))")]),
    dict(name="affine flag ignored (parameters always created)", cell="my_groupnorm",
         replace=[("        if affine:\n            self.weight = nn.Parameter", "        if True:\n            self.weight = nn.Parameter")]),
    # Exercise 2: GroupNorm as InstanceNorm / LayerNorm
    dict(name="InstanceNorm2d gets gn's weight but not its bias", cell="unification",
         replace=[("            inorm.bias.copy_(gn.bias)\n", "")]),
    dict(name="InstanceNorm2d always affine", cell="unification",
         replace=[("nn.InstanceNorm2d(gn.num_channels, eps=gn.eps, affine=gn.affine,",
                   "nn.InstanceNorm2d(gn.num_channels, eps=gn.eps, affine=True,")]),
    dict(name="no check of num_groups == 1 for the LayerNorm", cell="unification",
         replace=[("    if gn.num_groups != 1:\n        raise ValueError", "    if False:\n        raise ValueError")]),
    # Exercise 3: the norm_layer factory
    dict(name="num_groups argument ignored (always 32)", cell="norm_factory",
         replace=[("            if num_channels % num_groups != 0:", "            if num_channels % 32 != 0:"),
                  ("            return nn.GroupNorm(num_groups, num_channels)", "            return nn.GroupNorm(32, num_channels)")]),
    dict(name="assert instead of ValueError for indivisible widths", cell="norm_factory",
         replace=[("            if num_channels % num_groups != 0:\n                raise ValueError(",
                   "            assert num_channels % num_groups == 0, (")]),
    dict(name="GroupNorm without affine parameters", cell="norm_factory",
         replace=[("            return nn.GroupNorm(num_groups, num_channels)",
                   "            return nn.GroupNorm(num_groups, num_channels, affine=False)")]),
]

CORRECT = [
    dict(name="torch.var (biased), sqrt and view", cell="my_groupnorm",
         replace=[("        centred = grouped - grouped.mean(dim=-1, keepdim=True)\n"
                   "        var = (centred * centred).mean(dim=-1, keepdim=True)  # biased: divided by |S_g|\n"
                   "        y = (centred * torch.rsqrt(var + self.eps)).reshape(x.shape)\n"
                   "        if self.weight is not None:\n"
                   "            per_channel = (1, self.num_channels) + (1,) * (x.dim() - 2)\n"
                   "            y = y * self.weight.reshape(per_channel) + self.bias.reshape(per_channel)\n",
                   "        mean = grouped.mean(dim=-1, keepdim=True)\n"
                   "        var = grouped.var(dim=-1, unbiased=False, keepdim=True)\n"
                   "        y = ((grouped - mean) / torch.sqrt(var + self.eps)).view_as(x)\n"
                   "        if self.affine:\n"
                   "            shape = [1, -1] + [1] * (x.dim() - 2)\n"
                   "            y = y * self.weight.view(shape) + self.bias.view(shape)\n")]),
    dict(name="load_state_dict for the InstanceNorm, repeat for the LayerNorm", cell="unification",
         replace=[("            inorm.weight.copy_(gn.weight)\n            inorm.bias.copy_(gn.bias)\n",
                   "            inorm.load_state_dict(gn.state_dict())\n"),
                  ("ln.weight.copy_(gn.weight.reshape(c, 1, 1).expand(c, h, w))", "ln.weight.copy_(gn.weight[:, None, None].repeat(1, h, w))"),
                  ("ln.bias.copy_(gn.bias.reshape(c, 1, 1).expand(c, h, w))", "ln.bias.copy_(gn.bias[:, None, None].repeat(1, h, w))")]),
]
