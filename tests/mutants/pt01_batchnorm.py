"""Plausible wrong answers to pt01 (BatchNorm from scratch); each must lose points."""

MUTANTS = [
    # Exercise 1: MyBatchNorm1d
    dict(name="normalizes with the unbiased batch variance", hint='Your layer normalizes with the unbiased batch variance (divided by N-1). BatchNorm normalizes with the biased variance (divided by N) and uses the unbiased one only to update the running variance.', cell="my_batchnorm1d",
         replace=[("var = x.var(dim=dims, unbiased=False)", "var = x.var(dim=dims, unbiased=True)")]),
    dict(name="running variance updated with the biased variance", hint="Your running variance is updated with the biased batch variance. PyTorch's BatchNorm normalizes with the biased variance but feeds the unbiased (Bessel-corrected, N-1) batch variance into the running estimate.", cell="my_batchnorm1d",
         replace=[("self.momentum * var * m / max(m - 1, 1)", "self.momentum * var")]),
    dict(name="eps omitted", hint='Your layer divides by the standard deviation without epsilon, so a constant feature divides by zero. Add eps to the variance before taking the square root.', cell="my_batchnorm1d",
         replace=[("torch.sqrt(var.reshape(shape) + self.eps)", "torch.sqrt(var.reshape(shape))")]),
    dict(name="eps hard-coded to PyTorch's default 1e-5", hint='Your layer uses a fixed epsilon of 1e-5 instead of the eps the layer was constructed with. Use the value passed to the constructor.', cell="my_batchnorm1d",
         replace=[("torch.sqrt(var.reshape(shape) + self.eps)", "torch.sqrt(var.reshape(shape) + 1e-5)")]),
    dict(name="eps added outside the square root", hint='Your layer adds epsilon to the standard deviation. BatchNorm adds eps to the variance, inside the square root.', cell="my_batchnorm1d",
         replace=[("torch.sqrt(var.reshape(shape) + self.eps)", "(torch.sqrt(var.reshape(shape)) + self.eps)")]),
    dict(name="momentum convention inverted (Keras' meaning)", hint='Your running statistics keep a share of momentum of the old value. In PyTorch, momentum is the weight given to the NEW batch statistic, and one minus momentum the weight kept by the old running value.', cell="my_batchnorm1d",
         replace=[("self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)",
                   "self.running_mean.mul_(self.momentum).add_((1 - self.momentum) * mean)"),
                  ("self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * m / max(m - 1, 1))",
                   "self.running_var.mul_(self.momentum).add_((1 - self.momentum) * var * m / max(m - 1, 1))")]),
    dict(name="eval mode uses the batch statistics", hint='Your layer normalizes with the batch statistics in eval mode too. After model.eval() it must use the running mean and variance and leave them unchanged.', cell="my_batchnorm1d",
         replace=[("if self.training:", "if True:")]),
    dict(name="gamma/beta are plain tensors, not parameters", hint='Your scale and shift are plain tensors, so the optimizer never sees them and they are not trained. Register them as nn.Parameter.', cell="my_batchnorm1d",
         replace=[("self.gamma = nn.Parameter(torch.ones(num_features))", "self.gamma = torch.ones(num_features)"),
                  ("self.beta = nn.Parameter(torch.zeros(num_features))", "self.beta = torch.zeros(num_features)")]),
    dict(name="running statistics are plain attributes, not buffers", hint='Your running statistics are plain attributes, so they are missing from state_dict() and do not move with .to(device). Register them as buffers.', cell="my_batchnorm1d",
         replace=[('self.register_buffer("running_mean", torch.zeros(num_features))',
                   "self.running_mean = torch.zeros(num_features)"),
                  ('self.register_buffer("running_var", torch.ones(num_features))',
                   "self.running_var = torch.ones(num_features)")]),
    dict(name="running-statistics update recorded by autograd", hint='Your running-statistics update is recorded by autograd and replaces the buffers with new tensors. Update them in place, without gradient tracking.', cell="my_batchnorm1d",
         replace=[("with torch.no_grad():", "if True:"),
                  ("self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)",
                   "self.running_mean = self.running_mean * (1 - self.momentum) + self.momentum * mean"),
                  ("self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * m / max(m - 1, 1))",
                   "self.running_var = self.running_var * (1 - self.momentum) + self.momentum * var * m / max(m - 1, 1)")]),
    dict(name="statistics over the batch axis only for (N, C, L) inputs", hint='For (N, C, L) inputs your statistics are not taken over the batch and length axes together. BatchNorm1d computes one mean and variance per channel over every axis except the channel axis.', cell="my_batchnorm1d",
         replace=[("mean = x.mean(dim=dims)", "mean = x.mean(dim=0).mean(dim=-1) if x.dim() == 3 else x.mean(dim=0)"),
                  ("var = x.var(dim=dims, unbiased=False)",
                   "var = x.var(dim=0, unbiased=False).mean(dim=-1) if x.dim() == 3 else x.var(dim=0, unbiased=False)")]),
    # Exercise 2: predictions_across_batches
    dict(name="probe switched to training mode only when asked, never to eval", hint="Your function leaves the copy in whatever mode the model was in when training=False is asked. Set the copy's mode explicitly in both cases.", cell="predictions_across_batches",
         replace=[("probe = copy.deepcopy(model).train(training)",
                   "probe = copy.deepcopy(model)\n    if training:\n        probe.train()")]),
    dict(name="probes the model itself (no copy)", hint="Your function changes the model it was given (its mode, and in training mode its running statistics). Work on a copy so the caller's model is untouched.", cell="predictions_across_batches",
         replace=[("probe = copy.deepcopy(model).train(training)", "probe = model.train(training)")]),
    dict(name="restores the mode but not the running statistics", hint="Your function restores the model's mode but not its running statistics, which the training-mode passes have changed. Work on a copy of the model instead.", cell="predictions_across_batches",
         replace=[("probe = copy.deepcopy(model).train(training)",
                   "was_training = model.training\n    probe = model.train(training)"),
                  ("return torch.stack(rows)", "model.train(was_training)\n    return torch.stack(rows)")]),
    dict(name="builds an autograd graph", hint='Your function records an autograd graph for every prediction. Predictions for analysis should be computed without gradient tracking.', cell="predictions_across_batches",
         replace=[("with torch.no_grad():", "if True:")]),
    dict(name="draws batch_size batch-mates", hint='Your batches hold the example plus batch_size other examples, one too many. Draw batch_size - 1 companions so each batch has batch_size rows.', cell="predictions_across_batches",
         replace=[("[:batch_size - 1]", "[:batch_size]")]),
    # (the example's position in the batch is no mistake: batch statistics ignore row order)
    dict(name="one draw of batch-mates reused for every trial", hint='Your function draws the batch-mates once and reuses them in every trial, so the trials do not vary. Draw new companions for each trial.', cell="predictions_across_batches",
         replace=[("        for _ in range(n_trials):\n            idx = torch.randperm(len(pool), generator=generator)[:batch_size - 1]\n",
                   "        idx = torch.randperm(len(pool), generator=generator)[:batch_size - 1]\n        for _ in range(n_trials):\n")]),
]

# Wrong answers that are NOT in the catalogue: each must lose points, and the diagnosis should name none
# (make diagnosis reports how often it does).
UNCATALOGUED = [
    dict(name='beta initialized to ones', cell='my_batchnorm1d',
         replace=[('self.beta = nn.Parameter(torch.zeros(num_features))', 'self.beta = nn.Parameter(torch.ones(num_features))')]),
    dict(name='variance as the mean of squares (not centred)', cell='my_batchnorm1d',
         replace=[('var = x.var(dim=dims, unbiased=False)', 'var = (x * x).mean(dim=dims)')]),
    dict(name='batch-mates drawn with replacement', cell='predictions_across_batches',
         replace=[('torch.randperm(len(pool), generator=generator)[:batch_size - 1]', 'torch.randint(len(pool), (batch_size - 1,), generator=generator)')]),
]

# Correct alternatives: each must keep full marks, and nothing is ever diagnosed for them.
CORRECT = [
    dict(name='variance from the centred squares', cell='my_batchnorm1d',
         replace=[('var = x.var(dim=dims, unbiased=False)', 'var = ((x - x.mean(dim=dims, keepdim=True)) ** 2).mean(dim=dims)')]),
]
