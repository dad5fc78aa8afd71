"""Plausible wrong answers to tf01's exercises; each must lose points (tests/test_mutants.py)."""

_MOMENTS = "mean, variance = tf.nn.moments(x, axes=axes)  # biased variance"
_UPDATE_MEAN = "self.moving_mean.assign(self.momentum * self.moving_mean + (1.0 - self.momentum) * mean)"
_UPDATE_VAR = "self.moving_variance.assign(self.momentum * self.moving_variance + (1.0 - self.momentum) * variance)"
_NORMALIZE = "return self.gamma * (x - mean) * tf.math.rsqrt(variance + self.epsilon) + self.beta"
_TRAINING_BRANCH = f"""        if training:
            {_MOMENTS}
            {_UPDATE_MEAN}
            {_UPDATE_VAR}
        else:
            mean, variance = self.moving_mean, self.moving_variance"""
_BUILD = """        self.gamma = self.add_weight(shape=(channels,), initializer="ones", trainable=True, name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", trainable=True, name="beta")
        self.moving_mean = self.add_weight(shape=(channels,), initializer="zeros", trainable=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight(shape=(channels,), initializer="ones", trainable=False,
                                               name="moving_variance")"""

MUTANTS = [
    # ---------------------------------------------------------------- Exercise 1: MyBatchNorm
    dict(name="training=None treated as training (a bare layer(x) / model(x) normalizes with the batch)",
         cell="my_batchnorm", replace=[("        if training:\n", "        if training is not False:\n")]),
    dict(name="moving statistics updated in inference too",
         cell="my_batchnorm",
         replace=[(_TRAINING_BRANCH, """        batch_mean, batch_variance = tf.nn.moments(x, axes=axes)
        self.moving_mean.assign(self.momentum * self.moving_mean + (1.0 - self.momentum) * batch_mean)
        self.moving_variance.assign(self.momentum * self.moving_variance + (1.0 - self.momentum) * batch_variance)
        if training:
            mean, variance = batch_mean, batch_variance
        else:
            mean, variance = self.moving_mean, self.moving_variance""")]),
    dict(name="momentum convention inverted (PyTorch's: momentum weighs the new batch)",
         cell="my_batchnorm",
         replace=[(_UPDATE_MEAN, "self.moving_mean.assign((1.0 - self.momentum) * self.moving_mean + self.momentum * mean)"),
                  (_UPDATE_VAR, "self.moving_variance.assign((1.0 - self.momentum) * self.moving_variance + self.momentum * variance)")]),
    dict(name="unbiased variance stored in moving_variance (PyTorch's convention)",
         cell="my_batchnorm",
         replace=[(_UPDATE_VAR, "m = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), x.dtype)\n"
                                "            self.moving_variance.assign(self.momentum * self.moving_variance"
                                " + (1.0 - self.momentum) * variance * m / (m - 1.0))")]),
    dict(name="unbiased variance used to normalize and stored",
         cell="my_batchnorm",
         replace=[(_MOMENTS, _MOMENTS + "\n            m = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), x.dtype)"
                             "\n            variance = variance * m / (m - 1.0)")]),
    dict(name="epsilon added outside the square root",
         cell="my_batchnorm",
         replace=[(_NORMALIZE, "return self.gamma * (x - mean) / (tf.sqrt(variance) + self.epsilon) + self.beta")]),
    dict(name="epsilon missing", cell="my_batchnorm",
         replace=[(_NORMALIZE, "return self.gamma * (x - mean) * tf.math.rsqrt(variance) + self.beta")]),
    dict(name="statistics over axis 0 only (the handout's axes=[0])", cell="my_batchnorm",
         replace=[(_MOMENTS, "mean, variance = tf.nn.moments(x, axes=[0])")]),
    dict(name="gamma and beta not trainable", cell="my_batchnorm",
         replace=[('trainable=True, name="gamma"', 'trainable=False, name="gamma"'),
                  ('trainable=True, name="beta"', 'trainable=False, name="beta"')]),
    dict(name="delegates to keras.layers.BatchNormalization", cell="my_batchnorm",
         replace=[(_BUILD, """        self.bn = keras.layers.BatchNormalization(momentum=self.momentum, epsilon=self.epsilon)
        self.bn.build(input_shape)
        self.gamma, self.beta = self.bn.gamma, self.bn.beta
        self.moving_mean, self.moving_variance = self.bn.moving_mean, self.bn.moving_variance"""),
                  (_TRAINING_BRANCH + "\n        " + _NORMALIZE, "        return self.bn(x, training=training)")]),
    # ---------------------------------------------------------------- Exercise 2: train_step
    dict(name="training flag forgotten: model(x)", cell="train_step",
         replace=[("predictions = model(x, training=True)", "predictions = model(x)")]),
    dict(name="training=False inside the tape", cell="train_step",
         replace=[("predictions = model(x, training=True)", "predictions = model(x, training=False)")]),
    dict(name="forward pass outside the tape", cell="train_step",
         replace=[("""    with tf.GradientTape() as tape:
        predictions = model(x, training=True)
        loss = loss_fn(y, predictions)""", """    predictions = model(x, training=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, predictions)""")]),
    # ---------------------------------------------------------------- Exercise 3: torch_bn_to_keras_kwargs
    dict(name="momentum passed through unchanged", cell="torch_bn_to_keras_kwargs",
         replace=[('"momentum": 1.0 - float(momentum)', '"momentum": float(momentum)')]),
    dict(name="eps hard-coded to PyTorch's default", cell="torch_bn_to_keras_kwargs",
         replace=[('"epsilon": float(eps)', '"epsilon": 1e-5')]),
    dict(name="momentum not validated (None reaches float())", cell="torch_bn_to_keras_kwargs",
         replace=[('raise ValueError(f"PyTorch momentum must be a number in [0, 1], got {momentum!r}")', "pass")]),
]
