"""Plausible wrong answers to tf06 (FiLM conditioning); each must lose points."""

MUTANTS = [
    # Exercise 1: FiLM.call
    dict(name="gamma predicted directly whatever the parametrization (no 1 + delta)", hint="Your layer uses the predicted gamma directly even for the 'delta' parametrization. With 'delta', the scale is 1 + the prediction.", cell="film",
         replace=[('        if self.parametrization == "delta":\n            gamma = 1.0 + gamma\n', "")]),
    dict(name="1 + gamma always (direct parametrization ignored)", hint="Your layer always adds 1 to the predicted gamma, even for the 'direct' parametrization. Only 'delta' uses 1 + the prediction.", cell="film",
         replace=[('if self.parametrization == "delta":', "if True:")]),
    dict(name="broadcast shape built from the static batch size", hint="Your layer reshapes gamma and beta with x.shape[0], which is None inside a functional keras.Model, so the layer cannot be used there. Use -1 (or ops.shape(x)[0]) for the batch axis.", cell="film",
         replace=[("shape = (-1,) + (1,) * (len(x.shape) - 2) + (self.num_features,)", "shape = (x.shape[0],) + (1,) * (len(x.shape) - 2) + (self.num_features,)")]),
    dict(name="beta ignored", hint='Your layer scales the features but never adds the predicted offset. FiLM shifts every feature by its beta after scaling it by its gamma.', cell="film",
         replace=[("return x * ops.reshape(gamma, shape) + ops.reshape(beta, shape)", "return x * ops.reshape(gamma, shape)")]),
    dict(name="channels-first broadcast in a channels-last layer (gamma[:, :, None, None])", hint='Your layer reshapes gamma and beta channels-first. Keras features are channels-last: the per-channel values must line up with the last axis.', cell="film",
         replace=[("shape = (-1,) + (1,) * (len(x.shape) - 2) + (self.num_features,)",
                   "shape = (-1, self.num_features) + (1,) * (len(x.shape) - 2)")]),
    dict(name="hard-coded 4-D reshape (B, 1, 1, C): fails for sequences and vectors", hint='Your layer reshapes gamma and beta for 4-D inputs only. Insert as many unit axes as the input has between batch and channels.', cell="film",
         replace=[("shape = (-1,) + (1,) * (len(x.shape) - 2) + (self.num_features,)",
                   "shape = (-1, 1, 1, self.num_features)")]),
    dict(name="gamma and beta projections swapped", hint='Your layer takes gamma from the beta projection and beta from the gamma projection. Use each projection for its own role.', cell="film",
         replace=[("gamma = self.gamma_proj(condition)", "gamma = self.beta_proj(condition)"),
                  ("beta = self.beta_proj(condition)", "beta = self.gamma_proj(condition)")]),
    dict(name="modulation added instead of multiplied ((x + gamma) + beta)", hint='Your layer adds gamma instead of multiplying by it. FiLM scales the features by gamma, then adds beta.', cell="film",
         replace=[("return x * ops.reshape(gamma, shape) + ops.reshape(beta, shape)",
                   "return x + ops.reshape(gamma, shape) + ops.reshape(beta, shape)")]),
    dict(name="one gamma and beta for the whole batch (condition averaged)", hint='Your layer averages the conditioning over the batch, so every sample gets the same modulation. Each sample is modulated by its own condition.', cell="film",
         replace=[("gamma = self.gamma_proj(condition)", "gamma = self.gamma_proj(ops.mean(condition, axis=0, keepdims=True))"),
                  ("beta = self.beta_proj(condition)", "beta = self.beta_proj(ops.mean(condition, axis=0, keepdims=True))")]),
    dict(name="gradient stopped through gamma", hint='Your layer stops the gradient through gamma, so the gamma projection never learns. Keep gamma in the graph.', cell="film",
         replace=[("gamma = self.gamma_proj(condition)", "gamma = ops.stop_gradient(self.gamma_proj(condition))")]),
    # Exercise 2: ConditionalDecoder.decode
    dict(name="FiLM after the ReLU", hint='Your decoder applies FiLM after the ReLU. Modulate the features before the activation.', cell="decoder",
         replace=[("h = ops.relu(self.film1(self.up1(h), embedding))", "h = self.film1(ops.relu(self.up1(h)), embedding)"),
                  ("h = ops.relu(self.film2(self.up2(h), embedding))", "h = self.film2(ops.relu(self.up2(h)), embedding)")]),
    dict(name="second FiLM layer skipped (class enters once)", hint='Your decoder skips the second FiLM layer, so the class conditions only the first stage. Apply FiLM at both stages.', cell="decoder",
         replace=[("h = ops.relu(self.film2(self.up2(h), embedding))", "h = ops.relu(self.up2(h))")]),
    dict(name="class concatenated to z instead of FiLM (conditioning outside FiLM)", hint='Your decoder mixes the class into the latent input instead of modulating the features. Condition the decoder through its FiLM layers.', cell="decoder",
         replace=[("h = ops.reshape(self.project(z), (-1, self.start_size, self.start_size, 2 * self.width))",
                   "h = ops.reshape(self.project(z + ops.mean(embedding, axis=-1, keepdims=True)), (-1, self.start_size, self.start_size, 2 * self.width))")]),
    dict(name="no sigmoid at the output", hint='Your decoder outputs raw values. Pixels must lie in [0, 1]: apply a sigmoid at the output.', cell="decoder",
         replace=[("return ops.sigmoid(self.to_pixels(h))", "return self.to_pixels(h)")]),
    dict(name="embedding detached (stop_gradient): class embeddings never learn", hint='Your decoder stops the gradient into the class embedding, so it never learns. Keep the embedding in the graph.', cell="decoder",
         replace=[("h = ops.reshape(self.project(z),", "embedding = ops.stop_gradient(embedding)\n        h = ops.reshape(self.project(z),")]),
    dict(name="the same FiLM layer used twice (film1 for both)", hint='Your decoder uses the first FiLM layer at both stages. Each stage has its own FiLM layer with its own projections.', cell="decoder",
         replace=[("self.film2(self.up2(h), embedding)", "self.film1(ops.concatenate([self.up2(h), self.up2(h)], axis=-1), embedding)[..., :self.width]")]),
    dict(name="decoder reshapes with the static batch size", hint="Your decode reshapes with z.shape[0], which is None inside a functional model or a traced training step. Reshape with -1 for the batch axis.", cell="decoder",
         replace=[("h = ops.reshape(self.project(z), (-1, self.start_size, self.start_size, 2 * self.width))",
                   "h = ops.reshape(self.project(z), (z.shape[0], self.start_size, self.start_size, 2 * self.width))")]),
]

UNCATALOGUED = [
    # Exercise 1: FiLM.call
    dict(name="gamma squashed by tanh", cell="film",
         replace=[("gamma = self.gamma_proj(condition)", "gamma = ops.tanh(self.gamma_proj(condition))")]),
    dict(name="beta added before scaling ((x + beta) * gamma)", cell="film",
         replace=[("return x * ops.reshape(gamma, shape) + ops.reshape(beta, shape)",
                   "return (x + ops.reshape(beta, shape)) * ops.reshape(gamma, shape)")]),
    # Exercise 2: ConditionalDecoder.decode
    dict(name="no ReLU after the second FiLM", cell="decoder",
         replace=[("h = ops.relu(self.film2(self.up2(h), embedding))", "h = self.film2(self.up2(h), embedding)")]),
    dict(name="first FiLM applied before the first upsampling", cell="decoder",
         replace=[("h = ops.relu(self.film1(self.up1(h), embedding))", "h = ops.relu(self.up1(self.film1(h, embedding)))")]),
]

CORRECT = [
    dict(name="offset added once, expand_dims for broadcasting", cell="film",
         replace=[("        gamma = self.gamma_proj(condition)\n"
                   "        if self.parametrization == \"delta\":\n"
                   "            gamma = 1.0 + gamma\n"
                   "        beta = self.beta_proj(condition)\n"
                   "        shape = (-1,) + (1,) * (len(x.shape) - 2) + (self.num_features,)\n"
                   "        return x * ops.reshape(gamma, shape) + ops.reshape(beta, shape)",
                   "        offset = 1.0 if self.parametrization == \"delta\" else 0.0\n"
                   "        gamma, beta = self.gamma_proj(condition) + offset, self.beta_proj(condition)\n"
                   "        for _ in range(len(x.shape) - 2):\n"
                   "            gamma, beta = ops.expand_dims(gamma, 1), ops.expand_dims(beta, 1)\n"
                   "        return gamma * x + beta")]),
    dict(name="ReLU as maximum, sigmoid written out", cell="decoder",
         replace=[("h = ops.relu(self.film1(self.up1(h), embedding))", "h = ops.maximum(self.film1(self.up1(h), embedding), 0.0)"),
                  ("return ops.sigmoid(self.to_pixels(h))", "return 1.0 / (1.0 + ops.exp(-self.to_pixels(h)))")]),
]
