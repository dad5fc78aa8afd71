"""Plausible wrong answers to pt06 (adaLN-Zero DiT block); each must lose points."""

MUTANTS = [
    # Exercise 1: modulate
    dict(name="scale instead of 1 + scale", cell="modulate",
         replace=[("x * (1 + scale.unsqueeze(1))", "x * scale.unsqueeze(1)")]),
    dict(name="shift and scale swapped", cell="modulate",
         replace=[("return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)",
                   "return x * (1 + shift.unsqueeze(1)) + scale.unsqueeze(1)")]),
    dict(name="shift added before scaling", cell="modulate",
         replace=[("return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)",
                   "return (x + shift.unsqueeze(1)) * (1 + scale.unsqueeze(1))")]),
    dict(name="broadcast over the wrong axis (no unsqueeze; runs only when B == T)", cell="modulate",
         replace=[("return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)",
                   "return x * (1 + scale) + shift if x.shape[0] == x.shape[1] else x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)")]),
    # Exercise 2: DiTBlock
    dict(name="LayerNorm with affine parameters", cell="dit_block",
         replace=[("self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)",
                   "self.norm1 = nn.LayerNorm(dim, elementwise_affine=True, eps=1e-6)"),
                  ("self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)",
                   "self.norm2 = nn.LayerNorm(dim, elementwise_affine=True, eps=1e-6)")]),
    dict(name="PyTorch's default LayerNorm eps 1e-5 instead of DiT's 1e-6 (the handout's)", cell="dit_block",
         replace=[("elementwise_affine=False, eps=1e-6)", "elementwise_affine=False)")]),
    dict(name="no SiLU before the conditioning Linear (the handout's adaLN_proj)", cell="dit_block",
         replace=[("nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, 6 * dim, bias=True))",
                   "nn.Sequential(nn.Identity(), nn.Linear(cond_dim, 6 * dim, bias=True))")]),
    dict(name="wrong chunk order (shift, gate, scale)", cell="dit_block",
         replace=[("shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp =",
                   "shift_msa, gate_msa, scale_msa, shift_mlp, gate_mlp, scale_mlp =")]),
    dict(name="wrong chunk order (all msa gates first)", cell="dit_block",
         replace=[("shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp =",
                   "shift_msa, shift_mlp, scale_msa, scale_mlp, gate_msa, gate_mlp =")]),
    dict(name="gate missing (plain adaLN residual)", cell="dit_block",
         replace=[("x = x + gate_msa.unsqueeze(1) * self.attention(", "x = x + self.attention("),
                  ("x = x + gate_mlp.unsqueeze(1) * self.mlp(", "x = x + self.mlp(")]),
    dict(name="gate applied to the residual stream instead of the branch", cell="dit_block",
         replace=[("x = x + gate_msa.unsqueeze(1) * self.attention(modulate(self.norm1(x), shift_msa, scale_msa))",
                   "x = gate_msa.unsqueeze(1) * x + self.attention(modulate(self.norm1(x), shift_msa, scale_msa))"),
                  ("x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))",
                   "x = gate_mlp.unsqueeze(1) * x + self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))")]),
    dict(name="parallel branches: MLP reads x before the attention update", cell="dit_block",
         replace=[("x = x + gate_msa.unsqueeze(1) * self.attention(modulate(self.norm1(x), shift_msa, scale_msa))\n"
                   "        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))",
                   "a = gate_msa.unsqueeze(1) * self.attention(modulate(self.norm1(x), shift_msa, scale_msa))\n"
                   "        x = x + a + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))")]),
    dict(name="modulation applied before the LayerNorm", cell="dit_block",
         replace=[("self.attention(modulate(self.norm1(x), shift_msa, scale_msa))",
                   "self.attention(self.norm1(modulate(x, shift_msa, scale_msa)))")]),
    dict(name="conditioning detached from autograd", cell="dit_block",
         replace=[("self.adaLN_modulation(c).chunk(6, dim=1)", "self.adaLN_modulation(c).detach().chunk(6, dim=1)")]),
    # Exercise 3: adaln_zero_
    dict(name="zero init of the weight only (bias keeps its default init)", cell="adaln_zero",
         replace=[("    nn.init.zeros_(linear.bias)\n", "")]),
    dict(name="zero init of the bias only", cell="adaln_zero",
         replace=[("    nn.init.zeros_(linear.weight)\n", "")]),
    dict(name="only the gate chunks zeroed", cell="adaln_zero",
         source=("def adaln_zero_(block):\n"
                 "    linear = block.adaLN_modulation[-1]\n"
                 "    with torch.no_grad():\n"
                 "        linear.weight.view(6, -1, linear.weight.shape[1])[[2, 5]] = 0\n"
                 "        linear.bias.view(6, -1)[[2, 5]] = 0\n"
                 "    return block\n")),
    dict(name="every parameter of the block zeroed", cell="adaln_zero",
         source=("def adaln_zero_(block):\n"
                 "    for p in block.parameters():\n"
                 "        nn.init.zeros_(p)\n"
                 "    return block\n")),
    dict(name="the MLP's output layer zeroed instead (a different zero init)", cell="adaln_zero",
         source=("def adaln_zero_(block):\n"
                 "    nn.init.zeros_(block.mlp[-1].weight)\n"
                 "    nn.init.zeros_(block.mlp[-1].bias)\n"
                 "    return block\n")),
    dict(name="tiny instead of zero (1e-8)", cell="adaln_zero",
         replace=[("nn.init.zeros_(linear.weight)", "nn.init.constant_(linear.weight, 1e-8)")]),
    dict(name="zeroed weights frozen (requires_grad=False)", cell="adaln_zero",
         replace=[("    return block\n", "    linear.weight.requires_grad_(False)\n    linear.bias.requires_grad_(False)\n    return block\n")]),
    dict(name="returns None", cell="adaln_zero",
         replace=[("    return block\n", "")]),
]
