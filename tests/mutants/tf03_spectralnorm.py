"""Plausible wrong answers to tf03 (Keras' power-iteration step, exact kernel norms); each must lose points."""

NORMALIZE = "return a * ops.minimum(ops.rsqrt(ops.sum(ops.square(a))), 1.0 / epsilon)"
SIGMA = "sigma = ops.matmul(ops.matmul(v, weights), ops.transpose(u))[0, 0]"
RETURN = "return u, kernel / sigma, sigma"
SVD = "norms.append(float(np.linalg.svd(kernel, compute_uv=False)[0]))"

MUTANTS = [
    # Exercise 1: power_iteration_step
    dict(name="sigma as the Frobenius norm of the kernel", cell="power_iteration_step",
         replace=[(SIGMA, "sigma = ops.sqrt(ops.sum(ops.square(weights)))")]),
    dict(name="normalized kernel returned in the reshaped (-1, out) layout", cell="power_iteration_step",
         replace=[(RETURN, "return u, weights / sigma, sigma")]),
    dict(name="returns the old vector_u", cell="power_iteration_step",
         replace=[(RETURN, "return vector_u, kernel / sigma, sigma")]),
    dict(name="u not normalized", cell="power_iteration_step",
         replace=[("u = normalize(ops.matmul(v, weights))", "u = ops.matmul(v, weights)")]),
    dict(name="one iteration whatever power_iterations", cell="power_iteration_step",
         replace=[("for _ in range(power_iterations):", "for _ in range(1):")]),
    dict(name="epsilon added inside the square root", cell="power_iteration_step",
         replace=[(NORMALIZE, "return a * ops.rsqrt(ops.sum(ops.square(a)) + epsilon)")]),
    dict(name="delegates to keras.ops.normalize", cell="power_iteration_step",
         replace=[(NORMALIZE, "return ops.normalize(a, axis=None, epsilon=epsilon)")]),
    dict(name="kernel divided by sigma of a fresh random u (no persistent vector)", cell="power_iteration_step",
         replace=[("    u = vector_u\n", "    u = keras.random.normal((1, out), seed=0)\n")]),

    # Exercise 2: kernel_spectral_norms
    dict(name="Frobenius norm instead of the spectral norm", cell="kernel_spectral_norms",
         replace=[(SVD, "norms.append(float(np.linalg.norm(kernel)))")]),
    dict(name="the layer's own estimate (one iteration from vector_u)", cell="kernel_spectral_norms",
         replace=[(SVD, "norms.append(float(power_iteration_step(layer.layer.kernel, layer.vector_u)[2]))")]),
    dict(name="forgets the last layer", cell="kernel_spectral_norms",
         replace=[("for layer in model.layers:", "for layer in model.layers[:-1]:")]),
    dict(name="plain Dense layers counted too", cell="kernel_spectral_norms",
         replace=[("        if isinstance(layer, keras.layers.SpectralNormalization):\n            kernel = ops.convert_to_numpy(layer.layer.kernel)",
                   "        if hasattr(layer, 'kernel') or isinstance(layer, keras.layers.SpectralNormalization):\n"
                   "            kernel = ops.convert_to_numpy(layer.layer.kernel if hasattr(layer, 'layer') else layer.kernel)")]),
    dict(name="smallest singular value", cell="kernel_spectral_norms",
         replace=[(SVD, "norms.append(float(np.linalg.svd(kernel, compute_uv=False)[-1]))")]),
    dict(name="no reshape of a 4-D kernel", cell="kernel_spectral_norms",
         replace=[("            kernel = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)\n", "")]),
]
