"""Plausible wrong answers to tf03 (Keras' power-iteration step, exact kernel norms); each must lose points."""

NORMALIZE = "return a * ops.minimum(ops.rsqrt(ops.sum(ops.square(a))), 1.0 / epsilon)"
SIGMA = "sigma = ops.matmul(ops.matmul(v, weights), ops.transpose(u))[0, 0]"
RETURN = "return u, kernel / sigma, sigma"
SVD = "norms.append(float(np.linalg.svd(kernel, compute_uv=False)[0]))"

MUTANTS = [
    # Exercise 1: power_iteration_step
    dict(name="sigma as the Frobenius norm of the kernel", hint='Your sigma is the Frobenius norm of the kernel, larger than its spectral norm. Estimate the largest singular value from the power-iteration vectors, as Keras does.', cell="power_iteration_step",
         replace=[(SIGMA, "sigma = ops.sqrt(ops.sum(ops.square(weights)))")]),
    dict(name="normalized kernel returned in the reshaped (-1, out) layout", hint="Your function returns the normalized kernel in the flattened (-1, out) layout. Return it in the kernel's original shape.", cell="power_iteration_step",
         replace=[(RETURN, "return u, weights / sigma, sigma")]),
    dict(name="returns the old vector_u", hint='Your function returns the vector_u it was given rather than the updated one, so the estimate never improves. Return the new u.', cell="power_iteration_step",
         replace=[(RETURN, "return vector_u, kernel / sigma, sigma")]),
    dict(name="u not normalized", hint='Your u is not normalized after the multiplication. Normalize u (and v) at every power-iteration step.', cell="power_iteration_step",
         replace=[("u = normalize(ops.matmul(v, weights))", "u = ops.matmul(v, weights)")]),
    dict(name="one iteration whatever power_iterations", hint='Your function runs one iteration whatever power_iterations asks. Run exactly that many steps.', cell="power_iteration_step",
         replace=[("for _ in range(power_iterations):", "for _ in range(1):")]),
    dict(name="epsilon added inside the square root", hint="Your normalization adds epsilon inside the square root. Keras' normalize divides by the norm, with epsilon only as a lower bound on it.", cell="power_iteration_step",
         replace=[(NORMALIZE, "return a * ops.rsqrt(ops.sum(ops.square(a)) + epsilon)")]),
    dict(name="normalize without the epsilon lower bound", hint="Your normalization divides by the norm without bounding it below by epsilon. Keras' normalize uses max(norm, epsilon), which decides the result when the vector is tiny (a small vector_u).", cell="power_iteration_step",
         replace=[(NORMALIZE, "return a / ops.sqrt(ops.sum(ops.square(a)))")]),
    dict(name="delegates to keras.ops.normalize", hint="Your helper calls Keras' built-in normalize. This exercise asks you to write the normalization yourself.", cell="power_iteration_step",
         replace=[(NORMALIZE, "return ops.normalize(a, axis=None, epsilon=epsilon)")]),
    dict(name="kernel divided by sigma of a fresh random u (no persistent vector)", hint="Your step starts from a fresh random vector instead of the layer's vector_u, so the estimate never improves across calls. Start from vector_u.", cell="power_iteration_step",
         replace=[("    u = vector_u\n", "    u = keras.random.normal((1, out), seed=0)\n")]),

    # Exercise 2: kernel_spectral_norms
    dict(name="Frobenius norm instead of the spectral norm", hint='Your function reports Frobenius norms. The spectral norm is the largest singular value of the (reshaped) kernel.', cell="kernel_spectral_norms",
         replace=[(SVD, "norms.append(float(np.linalg.norm(kernel)))")]),
    dict(name="the layer's own estimate (one iteration from vector_u)", hint="Your function reports the layer's one-step power-iteration estimate. The exercise asks for each kernel's exact spectral norm.", cell="kernel_spectral_norms",
         replace=[(SVD, "norms.append(float(power_iteration_step(layer.layer.kernel, layer.vector_u)[2]))")]),
    dict(name="forgets the last layer", hint="Your function skips the model's last layer. Report every spectrally normalized layer.", cell="kernel_spectral_norms",
         replace=[("for layer in model.layers:", "for layer in model.layers[:-1]:")]),
    dict(name="sigma_max from 500 power iterations", hint="Your norms come from a power iteration. It converges slowly when the two largest singular values are close, and from below, so it is an estimate, not the exact norm. Use an SVD.", cell="kernel_spectral_norms",
         replace=[(SVD, """v = np.ones(kernel.shape[1]) / np.sqrt(kernel.shape[1])
            for _ in range(500):
                v = kernel.T @ (kernel @ v)
                v = v / np.linalg.norm(v)
            norms.append(float(np.linalg.norm(kernel @ v)))""")]),
    dict(name="plain Dense layers counted too", hint='Your function also reports layers that are not spectrally normalized. Report only SpectralNormalization layers.', cell="kernel_spectral_norms",
         replace=[("        if isinstance(layer, keras.layers.SpectralNormalization):\n            kernel = ops.convert_to_numpy(layer.layer.kernel)",
                   "        if hasattr(layer, 'kernel') or isinstance(layer, keras.layers.SpectralNormalization):\n"
                   "            kernel = ops.convert_to_numpy(layer.layer.kernel if hasattr(layer, 'layer') else layer.kernel)")]),
    dict(name="smallest singular value", hint='Your function reports the smallest singular value. The spectral norm is the largest one.', cell="kernel_spectral_norms",
         replace=[(SVD, "norms.append(float(np.linalg.svd(kernel, compute_uv=False)[-1]))")]),
    dict(name="no reshape of a 4-D kernel", hint='Your function takes singular values of a 4-D convolution kernel without reshaping it. Flatten it to a (-1, out_channels) matrix first, as spectral normalization does.', cell="kernel_spectral_norms",
         replace=[("            kernel = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)\n", "")]),
]

# Wrong answers that are NOT in the catalogue: each must lose points, and the diagnosis should name none
# (make diagnosis reports how often it does).
UNCATALOGUED = [
    dict(name="epsilon added to the norm instead of bounding it", cell="power_iteration_step",
         replace=[(NORMALIZE, "return a / (ops.sqrt(ops.sum(ops.square(a))) + epsilon)")]),
    dict(name="sigma computed with the old vector_u instead of the updated u", cell="power_iteration_step",
         replace=[(SIGMA, "sigma = ops.matmul(ops.matmul(v, weights), ops.transpose(vector_u))[0, 0]")]),
    dict(name="kernel multiplied by sigma instead of divided", cell="power_iteration_step",
         replace=[(RETURN, "return u, kernel * sigma, sigma")]),
    dict(name="squared spectral norm (largest eigenvalue of K^T K)", cell="kernel_spectral_norms",
         replace=[(SVD, "norms.append(float(np.linalg.eigvalsh(kernel.T @ kernel)[-1]))")]),
    dict(name="kernel flattened to (out, -1) in memory order instead of (-1, out)", cell="kernel_spectral_norms",
         replace=[("kernel = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)",
                   "kernel = kernel.reshape(kernel.shape[-1], -1).astype(np.float64)")]),
]

# Correct alternatives: each must keep full marks, and nothing is ever diagnosed for them.
CORRECT = [
    dict(name="largest singular value from keras.ops.svd in float32", cell="kernel_spectral_norms",
         replace=[(SVD, 'norms.append(float(ops.convert_to_numpy(ops.svd(ops.convert_to_tensor(kernel.astype("float32")), compute_uv=False))[0]))')]),
    dict(name="sigma as the dot product of u with v times the kernel", cell="power_iteration_step",
         replace=[(SIGMA, "sigma = ops.sum(ops.matmul(v, weights) * u)")]),
    dict(name="spectral norm as the square root of the top eigenvalue of K^T K", cell="kernel_spectral_norms",
         replace=[(SVD, "norms.append(float(np.sqrt(np.linalg.eigvalsh(kernel.T @ kernel)[-1])))")]),
]
