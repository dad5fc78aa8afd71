"""Plausible wrong answers to pt03 (weight norm, power iteration, Lipschitz bound); each must lose points."""

WN_WEIGHT = "return self.weight_g * (self.weight_v / self.weight_v.norm(dim=1, keepdim=True))"
WN_INIT_G = "self.weight_g = nn.Parameter(w0.norm(dim=1, keepdim=True))"
PI_LOOP = """        for _ in range(n_iterations):
            u = W @ v
            u = u / u.norm().clamp_min(eps)
            v = W.T @ u
            v = v / v.norm().clamp_min(eps)
"""
PI_SIGMA = "sigma = torch.dot(u, W @ v)"
LIP_NORM = "bound *= torch.linalg.matrix_norm(module.weight.double(), ord=2).item()"
LIP_RATIO = "return (model(x) - model(y)).norm(dim=1) / (x - y).norm(dim=1)"

MUTANTS = [
    # Exercise 1: MyWeightNormLinear
    dict(name="g normalized over the input axis instead of per output unit", cell="my_weightnorm_linear",
         replace=[(WN_WEIGHT, "return self.weight_g * (self.weight_v / self.weight_v.norm(dim=0, keepdim=True))")]),
    dict(name="g and its norm taken per input column (shape (1, in))", cell="my_weightnorm_linear",
         replace=[(WN_INIT_G, "self.weight_g = nn.Parameter(w0.norm(dim=0, keepdim=True))"),
                  (WN_WEIGHT, "return self.weight_g * (self.weight_v / self.weight_v.norm(dim=0, keepdim=True))")]),
    dict(name="one norm for the whole matrix (dim=None)", cell="my_weightnorm_linear",
         replace=[(WN_WEIGHT, "return self.weight_g * (self.weight_v / self.weight_v.norm())")]),
    dict(name="norm of v detached from the graph", cell="my_weightnorm_linear",
         replace=[(WN_WEIGHT, "return self.weight_g * (self.weight_v / self.weight_v.norm(dim=1, keepdim=True).detach())")]),
    dict(name="g initialized to ones", cell="my_weightnorm_linear",
         replace=[(WN_INIT_G, "self.weight_g = nn.Parameter(torch.ones(out_features, 1))")]),
    dict(name="g as a vector of shape (out,)", cell="my_weightnorm_linear",
         replace=[(WN_INIT_G, "self.weight_g = nn.Parameter(w0.norm(dim=1))"),
                  (WN_WEIGHT, "return self.weight_g[:, None] * (self.weight_v / self.weight_v.norm(dim=1, keepdim=True))")]),
    dict(name="v stored already normalized", cell="my_weightnorm_linear",
         replace=[("self.weight_v = nn.Parameter(w0.clone())",
                   "self.weight_v = nn.Parameter(w0 / w0.norm(dim=1, keepdim=True))")]),
    dict(name="g forgotten: weight = v / ||v||", cell="my_weightnorm_linear",
         replace=[(WN_WEIGHT, "return self.weight_v / self.weight_v.norm(dim=1, keepdim=True)")]),
    dict(name="delegates to torch._weight_norm", cell="my_weightnorm_linear",
         replace=[(WN_WEIGHT, "return torch._weight_norm(self.weight_v, self.weight_g, 0)")]),

    # Exercise 2: power_iteration
    dict(name="v updated before u", cell="power_iteration",
         replace=[(PI_LOOP, """        for _ in range(n_iterations):
            v = W.T @ u
            v = v / v.norm().clamp_min(eps)
            u = W @ v
            u = u / u.norm().clamp_min(eps)
""")]),
    dict(name="fresh random u, v at every call (nothing persistent)", cell="power_iteration",
         replace=[("        W = W.detach()\n",
                   "        W = W.detach()\n        u = torch.randn_like(u)\n        u = u / u.norm()\n"
                   "        v = torch.randn_like(v)\n        v = v / v.norm()\n")]),
    dict(name="sigma as the Frobenius norm", cell="power_iteration",
         replace=[(PI_SIGMA, "sigma = W.norm()")]),
    dict(name="sigma as ||W v|| instead of u.W v", cell="power_iteration",
         replace=[(PI_SIGMA, "sigma = (W @ v).norm()")]),
    dict(name="sigma from an SVD (exact, not PyTorch's estimate)", cell="power_iteration",
         replace=[(PI_SIGMA, "sigma = torch.linalg.svdvals(W)[0]")]),
    dict(name="returns the vectors passed in", cell="power_iteration",
         replace=[("        W = W.detach()\n", "        W = W.detach()\n        u_in, v_in = u, v\n"),
                  ("return sigma, u, v", "return sigma, u_in, v_in")]),
    dict(name="updates u and v in place", cell="power_iteration",
         replace=[(PI_LOOP, """        for _ in range(n_iterations):
            u.copy_(W @ v)
            u /= u.norm().clamp_min(eps)
            v.copy_(W.T @ u)
            v /= v.norm().clamp_min(eps)
""")]),
    dict(name="runs one iteration whatever n_iterations", cell="power_iteration",
         replace=[("for _ in range(n_iterations):", "for _ in range(1):")]),

    # Exercise 3: lipschitz_upper_bound, lipschitz_ratios
    dict(name="Frobenius norm instead of the spectral norm", cell="lipschitz",
         replace=[(LIP_NORM, 'bound *= torch.linalg.matrix_norm(module.weight.double(), ord="fro").item()')]),
    dict(name="product forgets the last layer", cell="lipschitz",
         replace=[("        for module in model:\n            if isinstance(module, nn.Linear):",
                   "        for module in list(model)[:-1]:\n            if isinstance(module, nn.Linear):")]),
    dict(name="product forgets the first layer", cell="lipschitz",
         replace=[("        for module in model:\n            if isinstance(module, nn.Linear):",
                   "        for module in list(model)[1:]:\n            if isinstance(module, nn.Linear):")]),
    dict(name="sigma from a single fresh power iteration treated as exact", cell="lipschitz",
         replace=[(LIP_NORM, """W = module.weight.double()
                u0 = F.normalize(torch.randn(W.shape[0], dtype=W.dtype), dim=0)
                v0 = F.normalize(torch.randn(W.shape[1], dtype=W.dtype), dim=0)
                bound *= power_iteration(W, u0, v0, n_iterations=1)[0].item()""")]),
    dict(name="spectrally normalized layers counted as exactly 1", cell="lipschitz",
         replace=[(LIP_NORM, """if parametrize.is_parametrized(module):
                    continue
                """ + LIP_NORM)]),
    dict(name="raw weight (parametrizations.weight.original) instead of layer.weight", cell="lipschitz",
         replace=[(LIP_NORM, """W = module.parametrizations.weight.original if parametrize.is_parametrized(module) else module.weight
                bound *= torch.linalg.matrix_norm(W.double(), ord=2).item()""")]),
    dict(name="sum of the norms instead of the product", cell="lipschitz",
         replace=[("        bound = 1.0\n", "        bound = 0.0\n"), (LIP_NORM, LIP_NORM.replace("*=", "+="))]),
    dict(name="ratios: one norm over the whole batch", cell="lipschitz",
         replace=[(LIP_RATIO, "return (model(x) - model(y)).norm() / (x - y).norm()")]),
    dict(name="ratios of squared norms", cell="lipschitz",
         replace=[(LIP_RATIO, "return (model(x) - model(y)).norm(dim=1) ** 2 / (x - y).norm(dim=1) ** 2")]),
    dict(name="ratios: norms over the batch axis", cell="lipschitz",
         replace=[(LIP_RATIO, "return (model(x) - model(y)).norm(dim=0) / (x - y).norm(dim=0)")]),
]
