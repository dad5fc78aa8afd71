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
    dict(name="training=None treated as training (a bare layer(x) / model(x) normalizes with the batch)", hint='Your layer treats training=None (a bare layer(x) or model(x) call) as training. In Keras, only training=True uses batch statistics; anything else uses the moving statistics.',
         cell="my_batchnorm", replace=[("        if training:\n", "        if training is not False:\n")]),
    dict(name="moving statistics updated in inference too", hint='Your layer updates the moving statistics in inference calls too. They may change only when training=True.',
         cell="my_batchnorm",
         replace=[(_TRAINING_BRANCH, """        batch_mean, batch_variance = tf.nn.moments(x, axes=axes)
        self.moving_mean.assign(self.momentum * self.moving_mean + (1.0 - self.momentum) * batch_mean)
        self.moving_variance.assign(self.momentum * self.moving_variance + (1.0 - self.momentum) * batch_variance)
        if training:
            mean, variance = batch_mean, batch_variance
        else:
            mean, variance = self.moving_mean, self.moving_variance""")]),
    dict(name="momentum convention inverted (PyTorch's: momentum weighs the new batch)", hint="Your moving statistics give momentum's weight to the new batch (PyTorch's meaning). In Keras, momentum is the weight kept by the OLD moving value, and one minus momentum the weight of the new batch.",
         cell="my_batchnorm",
         replace=[(_UPDATE_MEAN, "self.moving_mean.assign((1.0 - self.momentum) * self.moving_mean + self.momentum * mean)"),
                  (_UPDATE_VAR, "self.moving_variance.assign((1.0 - self.momentum) * self.moving_variance + self.momentum * variance)")]),
    dict(name="unbiased variance stored in moving_variance (PyTorch's convention)", hint="Your layer stores the unbiased variance in moving_variance (PyTorch's convention). Keras keeps the biased batch variance in its moving average.",
         cell="my_batchnorm",
         replace=[(_UPDATE_VAR, "m = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), x.dtype)\n"
                                "            self.moving_variance.assign(self.momentum * self.moving_variance"
                                " + (1.0 - self.momentum) * variance * m / (m - 1.0))")]),
    dict(name="unbiased variance used to normalize and stored", hint='Your layer normalizes with the unbiased variance (divided by N-1). BatchNorm normalizes with the biased variance (divided by N).',
         cell="my_batchnorm",
         replace=[(_MOMENTS, _MOMENTS + "\n            m = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), x.dtype)"
                             "\n            variance = variance * m / (m - 1.0)")]),
    dict(name="epsilon added outside the square root", hint='Your layer adds epsilon to the standard deviation. BatchNorm adds epsilon to the variance, inside the square root.',
         cell="my_batchnorm",
         replace=[(_NORMALIZE, "return self.gamma * (x - mean) / (tf.sqrt(variance) + self.epsilon) + self.beta")]),
    dict(name="epsilon missing", hint='Your layer divides by the standard deviation without epsilon, so a constant channel divides by zero. Add epsilon to the variance before the square root.', cell="my_batchnorm",
         replace=[(_NORMALIZE, "return self.gamma * (x - mean) * tf.math.rsqrt(variance) + self.beta")]),
    dict(name="statistics over axis 0 only (the handout's axes=[0])", hint='Your statistics are taken over the batch axis only. For images, BatchNorm averages over every axis except the channel axis (batch and spatial positions).', cell="my_batchnorm",
         replace=[(_MOMENTS, "mean, variance = tf.nn.moments(x, axes=[0])")]),
    dict(name="gamma and beta not trainable", hint='Your gamma and beta are not trainable, so training never changes them. Create them as trainable weights.', cell="my_batchnorm",
         replace=[('trainable=True, name="gamma"', 'trainable=False, name="gamma"'),
                  ('trainable=True, name="beta"', 'trainable=False, name="beta"')]),
    dict(name="delegates to keras.layers.BatchNormalization", hint="Your layer wraps Keras' built-in BatchNormalization. This exercise asks you to compute the statistics and the moving averages yourself.", cell="my_batchnorm",
         replace=[(_BUILD, """        self.bn = keras.layers.BatchNormalization(momentum=self.momentum, epsilon=self.epsilon)
        self.bn.build(input_shape)
        self.gamma, self.beta = self.bn.gamma, self.bn.beta
        self.moving_mean, self.moving_variance = self.bn.moving_mean, self.bn.moving_variance"""),
                  (_TRAINING_BRANCH + "\n        " + _NORMALIZE, "        return self.bn(x, training=training)")]),
    # ---------------------------------------------------------------- Exercise 2: train_step
    dict(name="training flag forgotten: model(x)", equivalent=['training=False inside the tape'], hint='Your training step calls the model without training=True, so BatchNorm uses its moving statistics and never updates them. Pass training=True in the training forward pass.', cell="train_step",
         replace=[("predictions = model(x, training=True)", "predictions = model(x)")]),
    dict(name="training=False inside the tape", equivalent=['training flag forgotten: model(x)'], hint='Your training step runs the model with training=False, so BatchNorm layers are in inference mode while training. Pass training=True.', cell="train_step",
         replace=[("predictions = model(x, training=True)", "predictions = model(x, training=False)")]),
    dict(name="forward pass outside the tape", hint='Your forward pass runs outside the GradientTape, so the tape records nothing and the gradients are None. Run the forward pass inside the tape.', cell="train_step",
         replace=[("""    with tf.GradientTape() as tape:
        predictions = model(x, training=True)
        loss = loss_fn(y, predictions)""", """    predictions = model(x, training=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, predictions)""")]),
    # ---------------------------------------------------------------- Exercise 3: torch_bn_to_keras_kwargs
    dict(name="momentum passed through unchanged", hint="Your conversion passes PyTorch's momentum to Keras unchanged. The two mean opposite things: PyTorch's weighs the new batch, Keras' weighs the old average, so they are complements.", cell="torch_bn_to_keras_kwargs",
         replace=[('"momentum": 1.0 - float(momentum)', '"momentum": float(momentum)')]),
    dict(name="eps hard-coded to PyTorch's default", hint='Your conversion always uses epsilon 1e-5 instead of the eps it was given. Pass the given value through.', cell="torch_bn_to_keras_kwargs",
         replace=[('"epsilon": float(eps)', '"epsilon": 1e-5')]),
    dict(name="momentum not validated (None reaches float())", hint='Your conversion does not reject momentum=None or values outside [0, 1]. Raise a ValueError that names the value received.', cell="torch_bn_to_keras_kwargs",
         replace=[('raise ValueError(f"PyTorch momentum must be a number in [0, 1], got {momentum!r}")', "pass")]),
]

# Wrong answers that are NOT in the catalogue: each must lose points, and the diagnosis should name none
# (make diagnosis reports how often it does).
UNCATALOGUED = [
    dict(name='beta initialized to ones', cell='my_batchnorm',
         replace=[('initializer="zeros", trainable=True, name="beta"', 'initializer="ones", trainable=True, name="beta"')]),
    dict(name='moving_variance initialized to zeros', cell='my_batchnorm',
         replace=[('initializer="ones", trainable=False,', 'initializer="zeros", trainable=False,')]),
    dict(name='get_config leaves out epsilon', cell='my_batchnorm',
         replace=[('return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}',
                   'return {**super().get_config(), "momentum": self.momentum}')]),
    dict(name='gradients computed but never applied', cell='train_step',
         replace=[('optimizer.apply_gradients(zip(grads, model.trainable_variables))', 'pass')]),
    dict(name='loss arguments swapped (predictions first)', cell='train_step',
         replace=[('loss = loss_fn(y, predictions)', 'loss = loss_fn(predictions, y)')]),
    dict(name='returns the predictions instead of the loss', cell='train_step',
         replace=[('    return loss\n', '    return predictions\n')]),
    dict(name='eps not validated', cell='torch_bn_to_keras_kwargs',
         replace=[('raise ValueError(f"eps must be a positive number, got {eps!r}")', 'pass')]),
    dict(name="epsilon returned under PyTorch's key eps", cell='torch_bn_to_keras_kwargs',
         replace=[('"epsilon": float(eps)', '"eps": float(eps)')]),
    dict(name='momentum bounds exclusive (0 and 1 rejected)', cell='torch_bn_to_keras_kwargs',
         replace=[('not 0.0 <= momentum <= 1.0', 'not 0.0 < momentum < 1.0')]),
]

# Correct alternatives: each must keep full marks, and nothing is ever diagnosed for them.
CORRECT = [
    dict(name='momentum converted as float(1 - momentum)', cell='torch_bn_to_keras_kwargs',
         replace=[('1.0 - float(momentum)', 'float(1 - momentum)')]),
    dict(name='batch moments computed with reduce_mean', cell='my_batchnorm',
         replace=[(_MOMENTS, "mean = tf.reduce_mean(x, axis=axes)\n"
                             "            variance = tf.reduce_mean(tf.square(x - mean), axis=axes)")]),
]
