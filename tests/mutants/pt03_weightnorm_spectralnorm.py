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
    dict(name="g normalized over the input axis instead of per output unit", hint="Your layer divides v by norms taken over the output axis. Weight norm divides each output unit's row of v by that row's norm (over the input axis).", cell="my_weightnorm_linear",
         replace=[(WN_WEIGHT, "return self.weight_g * (self.weight_v / self.weight_v.norm(dim=0, keepdim=True))")]),
    dict(name="g and its norm taken per input column (shape (1, in))", hint='Your g and its norms are per input column. Weight norm keeps one magnitude per output unit: g has shape (out, 1) and each row of v is divided by its own norm.', cell="my_weightnorm_linear",
         replace=[(WN_INIT_G, "self.weight_g = nn.Parameter(w0.norm(dim=0, keepdim=True))"),
                  (WN_WEIGHT, "return self.weight_g * (self.weight_v / self.weight_v.norm(dim=0, keepdim=True))")]),
    dict(name="one norm for the whole matrix (dim=None)", hint="Your layer divides v by the norm of the whole matrix. Weight norm divides each output unit's row by its own norm.", cell="my_weightnorm_linear",
         replace=[(WN_WEIGHT, "return self.weight_g * (self.weight_v / self.weight_v.norm())")]),
    dict(name="norm of v detached from the graph", hint='Your layer detaches the norm of v, so the gradient with respect to v is wrong. The norm must stay in the autograd graph.', cell="my_weightnorm_linear",
         replace=[(WN_WEIGHT, "return self.weight_g * (self.weight_v / self.weight_v.norm(dim=1, keepdim=True).detach())")]),
    dict(name="g initialized to ones", hint="Your g starts at ones, so the initial weight differs from the original one. Initialize g with the norms of the initial weight's rows so that g * v / ||v|| equals it.", cell="my_weightnorm_linear",
         replace=[(WN_INIT_G, "self.weight_g = nn.Parameter(torch.ones(out_features, 1))")]),
    dict(name="g as a vector of shape (out,)", hint="Your g has shape (out,). PyTorch's weight norm along dim 0 keeps g with shape (out, 1); keep that shape.", cell="my_weightnorm_linear",
         replace=[(WN_INIT_G, "self.weight_g = nn.Parameter(w0.norm(dim=1))"),
                  (WN_WEIGHT, "return self.weight_g[:, None] * (self.weight_v / self.weight_v.norm(dim=1, keepdim=True))")]),
    dict(name="v stored already normalized", hint='Your v starts already normalized. Start v as a copy of the initial weight; only the product g * v / ||v|| has to equal it.', cell="my_weightnorm_linear",
         replace=[("self.weight_v = nn.Parameter(w0.clone())",
                   "self.weight_v = nn.Parameter(w0 / w0.norm(dim=1, keepdim=True))")]),
    dict(name="g forgotten: weight = v / ||v||", hint='Your weight is v / ||v|| with no magnitude, so every row has norm 1. Multiply by the learned g.', cell="my_weightnorm_linear",
         replace=[(WN_WEIGHT, "return self.weight_v / self.weight_v.norm(dim=1, keepdim=True)")]),
    dict(name="delegates to torch._weight_norm", hint="Your layer calls PyTorch's internal weight-norm function. This exercise asks you to compute g * v / ||v|| yourself.", cell="my_weightnorm_linear",
         replace=[(WN_WEIGHT, "return torch._weight_norm(self.weight_v, self.weight_g, 0)")]),

    dict(name="magnitude taken as |g|", hint="Your layer uses the absolute value of g. Weight norm lets g be any real number: a negative g flips the direction of its row, and its gradient changes sign with it.", cell="my_weightnorm_linear",
         replace=[(WN_WEIGHT, "return self.weight_g.abs() * (self.weight_v / self.weight_v.norm(dim=1, keepdim=True))")]),

    # Exercise 2: power_iteration
    dict(name="v updated before u", hint="Your power iteration updates v before u. PyTorch's spectral norm computes u from the stored v first, then v from the new u.", cell="power_iteration",
         replace=[(PI_LOOP, """        for _ in range(n_iterations):
            v = W.T @ u
            v = v / v.norm().clamp_min(eps)
            u = W @ v
            u = u / u.norm().clamp_min(eps)
""")]),
    dict(name="fresh random u, v at every call (nothing persistent)", hint='Your function draws fresh random vectors at each call, so the estimate never improves between steps. Start from the u and v passed in and return the updated ones.', cell="power_iteration",
         replace=[("        W = W.detach()\n",
                   "        W = W.detach()\n        u = torch.randn_like(u)\n        u = u / u.norm()\n"
                   "        v = torch.randn_like(v)\n        v = v / v.norm()\n")]),
    dict(name="sigma as the Frobenius norm", hint='Your sigma is the Frobenius norm of W, which is larger than its spectral norm. Estimate the largest singular value from the power-iteration vectors.', cell="power_iteration",
         replace=[(PI_SIGMA, "sigma = W.norm()")]),
    dict(name="sigma as ||W v|| instead of u.W v", hint="Your sigma is the norm of W v. PyTorch's estimate is the bilinear form u^T W v with the updated u and v.", cell="power_iteration",
         replace=[(PI_SIGMA, "sigma = (W @ v).norm()")]),
    dict(name="sigma from an SVD (exact, not PyTorch's estimate)", hint="Your sigma comes from an exact SVD. The exercise asks for the power-iteration estimate, as PyTorch's spectral norm computes it.", cell="power_iteration",
         replace=[(PI_SIGMA, "sigma = torch.linalg.svdvals(W)[0]")]),
    dict(name="returns the vectors passed in", hint='Your function returns the vectors it was given rather than the updated ones, so the next call starts from scratch. Return the new u and v.', cell="power_iteration",
         replace=[("        W = W.detach()\n", "        W = W.detach()\n        u_in, v_in = u, v\n"),
                  ("return sigma, u, v", "return sigma, u_in, v_in")]),
    dict(name="updates u and v in place", hint="Your function overwrites the caller's u and v in place. Compute new vectors and return them.", cell="power_iteration",
         replace=[(PI_LOOP, """        for _ in range(n_iterations):
            u.copy_(W @ v)
            u /= u.norm().clamp_min(eps)
            v.copy_(W.T @ u)
            v /= v.norm().clamp_min(eps)
""")]),
    dict(name="runs one iteration whatever n_iterations", hint='Your function runs one iteration whatever n_iterations asks. Run exactly n_iterations steps.', cell="power_iteration",
         replace=[("for _ in range(n_iterations):", "for _ in range(1):")]),

    dict(name="normalization without the eps clamp", hint="Your power iteration divides by the norm without clamping it at eps, so a zero vector (W v = 0) gives NaN. Divide by max(norm, eps), as F.normalize does.", cell="power_iteration",
         replace=[(PI_LOOP, """        for _ in range(n_iterations):
            u = W @ v
            u = u / u.norm()
            v = W.T @ u
            v = v / v.norm()
""")]),

    # Exercise 3: lipschitz_upper_bound, lipschitz_ratios
    dict(name="Frobenius norm instead of the spectral norm", hint="Your bound multiplies Frobenius norms, which overestimate each layer's Lipschitz constant. Use each weight's spectral norm (its largest singular value).", cell="lipschitz",
         replace=[(LIP_NORM, 'bound *= torch.linalg.matrix_norm(module.weight.double(), ord="fro").item()')]),
    dict(name="product forgets the last layer", hint='Your bound leaves out the last Linear layer. Multiply the spectral norms of every Linear layer.', cell="lipschitz",
         replace=[("        for module in model:\n            if isinstance(module, nn.Linear):",
                   "        for module in list(model)[:-1]:\n            if isinstance(module, nn.Linear):")]),
    dict(name="product forgets the first layer", hint='Your bound leaves out the first Linear layer. Multiply the spectral norms of every Linear layer.', cell="lipschitz",
         replace=[("        for module in model:\n            if isinstance(module, nn.Linear):",
                   "        for module in list(model)[1:]:\n            if isinstance(module, nn.Linear):")]),
    dict(name="sigma from a single fresh power iteration treated as exact", hint='Your bound uses a one-step power-iteration estimate, which can be far below the true spectral norm. An upper bound needs the exact largest singular value.', cell="lipschitz",
         replace=[(LIP_NORM, """W = module.weight.double()
                u0 = F.normalize(torch.randn(W.shape[0], dtype=W.dtype), dim=0)
                v0 = F.normalize(torch.randn(W.shape[1], dtype=W.dtype), dim=0)
                bound *= power_iteration(W, u0, v0, n_iterations=1)[0].item()""")]),
    dict(name="sigma from 500 power iterations treated as exact", hint="Your bound comes from a long power iteration. Its estimate converges slowly when the two largest singular values are close, and always from below, so it is not an upper bound. Use the exact largest singular value.", cell="lipschitz",
         replace=[(LIP_NORM, """W = module.weight.double()
                gen = torch.Generator().manual_seed(0)
                v0 = F.normalize(torch.randn(W.shape[1], dtype=W.dtype, generator=gen), dim=0)
                u0 = F.normalize(W @ v0, dim=0)
                bound *= power_iteration(W, u0, v0, n_iterations=500)[0].item()""")]),
    dict(name="spectral norm computed in float32", hint="Your bound is computed in float32, whose rounding (about 1e-7 relative) can put it below the true norm. Compute it in float64, as the docstring says.", cell="lipschitz",
         replace=[(LIP_NORM, "bound *= torch.linalg.matrix_norm(module.weight, ord=2).item()")]),
    dict(name="spectrally normalized layers counted as exactly 1", hint="Your bound counts spectrally normalized layers as exactly 1. Their weight is divided by an estimate, so its true spectral norm can exceed 1: compute it from the layer's weight.", cell="lipschitz",
         replace=[(LIP_NORM, """if parametrize.is_parametrized(module):
                    continue
                """ + LIP_NORM)]),
    dict(name="raw weight (parametrizations.weight.original) instead of layer.weight", hint='Your bound uses the raw weight before spectral normalization. Use the weight the layer actually applies.', cell="lipschitz",
         replace=[(LIP_NORM, """W = module.parametrizations.weight.original if parametrize.is_parametrized(module) else module.weight
                bound *= torch.linalg.matrix_norm(W.double(), ord=2).item()""")]),
    dict(name="sum of the norms instead of the product", hint="Your bound adds the layers' norms. The Lipschitz constant of a composition is bounded by the PRODUCT of the layers' constants.", cell="lipschitz",
         replace=[("        bound = 1.0\n", "        bound = 0.0\n"), (LIP_NORM, LIP_NORM.replace("*=", "+="))]),
    dict(name="ratios: one norm over the whole batch", hint='Your ratios use one norm over the whole batch. Compute one ratio per pair of inputs, with norms over each row.', cell="lipschitz",
         replace=[(LIP_RATIO, "return (model(x) - model(y)).norm() / (x - y).norm()")]),
    dict(name="ratios of squared norms", hint='Your ratios divide squared norms. The Lipschitz ratio is ||f(x) - f(y)|| / ||x - y||, not squared.', cell="lipschitz",
         replace=[(LIP_RATIO, "return (model(x) - model(y)).norm(dim=1) ** 2 / (x - y).norm(dim=1) ** 2")]),
    dict(name="ratios: norms over the batch axis", hint="Your norms are taken over the batch axis. Take each pair's norm over its feature axis, one ratio per pair.", cell="lipschitz",
         replace=[(LIP_RATIO, "return (model(x) - model(y)).norm(dim=0) / (x - y).norm(dim=0)")]),
]

# Wrong answers that are NOT in the catalogue: each must lose points, and the diagnosis should name none
# (make diagnosis reports how often it does).
UNCATALOGUED = [
    dict(name='v never normalized in the power iteration', cell='power_iteration',
         replace=[('v = v / v.norm().clamp_min(eps)', 'pass')]),
    dict(name='bound starts at 0', cell='lipschitz',
         replace=[('bound = 1.0', 'bound = 0.0')]),
    dict(name='divides by the squared norm of v', cell='my_weightnorm_linear',
         replace=[('self.weight_v / self.weight_v.norm(dim=1, keepdim=True))', 'self.weight_v / self.weight_v.norm(dim=1, keepdim=True) ** 2)')]),
    dict(name='v initialized at random instead of from the initial weight', cell='my_weightnorm_linear',
         replace=[('self.weight_v = nn.Parameter(w0.clone())', 'self.weight_v = nn.Parameter(torch.randn_like(w0))')]),
    dict(name='sigma as the Rayleigh quotient of W^T W (the squared estimate)', cell='power_iteration',
         replace=[(PI_SIGMA, 'sigma = torch.dot(v, W.T @ (W @ v))')]),
    dict(name='bound is the largest layer norm instead of the product', cell='lipschitz',
         replace=[(LIP_NORM, 'bound = max(bound, torch.linalg.matrix_norm(module.weight.double(), ord=2).item())')]),
    dict(name='ratios inverted (input distance over output distance)', cell='lipschitz',
         replace=[(LIP_RATIO, 'return (x - y).norm(dim=1) / (model(x) - model(y)).norm(dim=1)')]),
]

# Correct alternatives: each must keep full marks, and nothing is ever diagnosed for them.
CORRECT = [
    dict(name='row norms from torch.linalg.vector_norm', cell='my_weightnorm_linear',
         replace=[(WN_WEIGHT, 'return self.weight_g * self.weight_v / torch.linalg.vector_norm(self.weight_v, dim=1, keepdim=True)')]),
    dict(name='largest singular value from svdvals', cell='lipschitz',
         replace=[('torch.linalg.matrix_norm(module.weight.double(), ord=2).item()', 'torch.linalg.svdvals(module.weight.double())[0].item()')]),
]
