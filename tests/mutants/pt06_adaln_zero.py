"""Plausible wrong answers to pt06 (adaLN-Zero DiT block); each must lose points."""

MUTANTS = [
    # Exercise 1: modulate
    dict(name="scale instead of 1 + scale", hint='Your modulate multiplies x by scale itself, so a zero scale wipes out the input. In adaLN the scale is a residual around one: a zero scale must leave x unchanged before the shift is added.', cell="modulate",
         replace=[("x * (1 + scale.unsqueeze(1))", "x * scale.unsqueeze(1)")]),
    dict(name="shift and scale swapped", hint='Your modulate uses shift as the scale and scale as the shift. Scale multiplies the normalized input (as 1 + scale); shift is added.', cell="modulate",
         replace=[("return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)",
                   "return x * (1 + shift.unsqueeze(1)) + scale.unsqueeze(1)")]),
    dict(name="shift added before scaling", hint='Your modulate adds the shift before scaling, so the shift is scaled too. Scale first, then add the shift.', cell="modulate",
         replace=[("return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)",
                   "return (x + shift.unsqueeze(1)) * (1 + scale.unsqueeze(1))")]),
    dict(name="broadcast over the wrong axis (no unsqueeze; runs only when B == T)", hint="Your modulate broadcasts the per-sample (B, D) vectors against the token axis; it only runs when B equals T and then mixes samples. Insert a token axis so each sample's vector applies to all its tokens.", cell="modulate",
         replace=[("return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)",
                   "return x * (1 + scale) + shift if x.shape[0] == x.shape[1] else x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)")]),
    # Exercise 2: DiTBlock
    dict(name="LayerNorm with affine parameters", hint="Your block's LayerNorms have their own weight and bias. In adaLN, the affine step comes from the conditioning: the LayerNorms have no parameters of their own.", cell="dit_block",
         replace=[("self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)",
                   "self.norm1 = nn.LayerNorm(dim, elementwise_affine=True, eps=1e-6)"),
                  ("self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)",
                   "self.norm2 = nn.LayerNorm(dim, elementwise_affine=True, eps=1e-6)")]),
    dict(name="PyTorch's default LayerNorm eps 1e-5 instead of DiT's 1e-6 (the handout's)", hint="Your block's LayerNorms use PyTorch's default eps. DiT's blocks use eps = 1e-6.", cell="dit_block",
         replace=[("elementwise_affine=False, eps=1e-6)", "elementwise_affine=False)")]),
    dict(name="no SiLU before the conditioning Linear (the handout's adaLN_proj)", hint='Your conditioning goes straight into the Linear layer. DiT applies a SiLU to the conditioning vector before the adaLN Linear.', cell="dit_block",
         replace=[("nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, 6 * dim, bias=True))",
                   "nn.Sequential(nn.Identity(), nn.Linear(cond_dim, 6 * dim, bias=True))")]),
    dict(name="wrong chunk order (shift, gate, scale)", hint="Your block reads the six modulation chunks in the wrong order. DiT's order is shift, scale, gate for the attention branch, then the same three for the MLP.", cell="dit_block",
         replace=[("shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp =",
                   "shift_msa, gate_msa, scale_msa, shift_mlp, gate_mlp, scale_mlp =")]),
    dict(name="wrong chunk order (all msa gates first)", hint="Your block reads the six modulation chunks in the wrong order. DiT's order is shift, scale, gate for the attention branch, then the same three for the MLP.", cell="dit_block",
         replace=[("shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp =",
                   "shift_msa, shift_mlp, scale_msa, scale_mlp, gate_msa, gate_mlp =")]),
    dict(name="gate missing (plain adaLN residual)", hint="Your residual branches are not multiplied by their gates. adaLN-Zero gates each branch's output before adding it to the residual stream.", cell="dit_block",
         replace=[("x = x + gate_msa.unsqueeze(1) * self.attention(", "x = x + self.attention("),
                  ("x = x + gate_mlp.unsqueeze(1) * self.mlp(", "x = x + self.mlp(")]),
    dict(name="gate applied to the residual stream instead of the branch", hint="Your gate multiplies the residual stream. The gate scales the branch's output, which is then added to the unchanged stream.", cell="dit_block",
         replace=[("x = x + gate_msa.unsqueeze(1) * self.attention(modulate(self.norm1(x), shift_msa, scale_msa))",
                   "x = gate_msa.unsqueeze(1) * x + self.attention(modulate(self.norm1(x), shift_msa, scale_msa))"),
                  ("x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))",
                   "x = gate_mlp.unsqueeze(1) * x + self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))")]),
    dict(name="parallel branches: MLP reads x before the attention update", hint="Your MLP branch reads the block's input instead of the output of the attention step. The branches are sequential: the MLP sees x after the attention update.", cell="dit_block",
         replace=[("x = x + gate_msa.unsqueeze(1) * self.attention(modulate(self.norm1(x), shift_msa, scale_msa))\n"
                   "        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))",
                   "a = gate_msa.unsqueeze(1) * self.attention(modulate(self.norm1(x), shift_msa, scale_msa))\n"
                   "        x = x + a + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))")]),
    dict(name="modulation applied before the LayerNorm", hint='Your block modulates before normalizing, so the LayerNorm undoes the shift and scale. Normalize first, then modulate.', cell="dit_block",
         replace=[("self.attention(modulate(self.norm1(x), shift_msa, scale_msa))",
                   "self.attention(self.norm1(modulate(x, shift_msa, scale_msa)))")]),
    dict(name="conditioning detached from autograd", hint='Your modulation is detached, so the conditioning network never learns. Keep the adaLN output in the graph.', cell="dit_block",
         replace=[("self.adaLN_modulation(c).chunk(6, dim=1)", "self.adaLN_modulation(c).detach().chunk(6, dim=1)")]),
    # Exercise 3: adaln_zero_
    dict(name="zero init of the weight only (bias keeps its default init)", hint="Your initialization zeroes the adaLN Linear's weight but not its bias, so the gates start nonzero. adaLN-Zero zeroes both.", cell="adaln_zero",
         replace=[("    nn.init.zeros_(linear.bias)\n", "")]),
    dict(name="zero init of the bias only", hint="Your initialization zeroes the adaLN Linear's bias but not its weight, so the gates depend on the conditioning from the start. adaLN-Zero zeroes both.", cell="adaln_zero",
         replace=[("    nn.init.zeros_(linear.weight)\n", "")]),
    dict(name="only the gate chunks zeroed", hint='Your initialization zeroes only the gate chunks. adaLN-Zero zeroes the whole final adaLN Linear: every shift, scale and gate starts at zero.', cell="adaln_zero",
         source=("def adaln_zero_(block):\n"
                 "    linear = block.adaLN_modulation[-1]\n"
                 "    with torch.no_grad():\n"
                 "        linear.weight.view(6, -1, linear.weight.shape[1])[[2, 5]] = 0\n"
                 "        linear.bias.view(6, -1)[[2, 5]] = 0\n"
                 "    return block\n")),
    dict(name="every parameter of the block zeroed", hint='Your initialization zeroes every parameter of the block, including attention and MLP. adaLN-Zero zeroes only the final adaLN Linear layer.', cell="adaln_zero",
         source=("def adaln_zero_(block):\n"
                 "    for p in block.parameters():\n"
                 "        nn.init.zeros_(p)\n"
                 "    return block\n")),
    dict(name="the MLP's output layer zeroed instead (a different zero init)", hint="Your initialization zeroes the MLP's output layer. adaLN-Zero zeroes the final Linear of the adaLN modulation instead.", cell="adaln_zero",
         source=("def adaln_zero_(block):\n"
                 "    nn.init.zeros_(block.mlp[-1].weight)\n"
                 "    nn.init.zeros_(block.mlp[-1].bias)\n"
                 "    return block\n")),
    dict(name="tiny instead of zero (1e-8)", hint='Your initialization sets the adaLN weight to a tiny constant instead of zero. adaLN-Zero uses exact zeros.', cell="adaln_zero",
         replace=[("nn.init.zeros_(linear.weight)", "nn.init.constant_(linear.weight, 1e-8)")]),
    dict(name="zeroed weights frozen (requires_grad=False)", hint='Your initialization freezes the zeroed parameters, so they never train. Zero them, but leave them trainable.', cell="adaln_zero",
         replace=[("    return block\n", "    linear.weight.requires_grad_(False)\n    linear.bias.requires_grad_(False)\n    return block\n")]),
    dict(name="returns None", hint='Your function returns None. Return the block it initialized, so it can be chained.', cell="adaln_zero",
         replace=[("    return block\n", "")]),
    dict(name="shift and scale read through .data (no gradient to the conditioning)", hint="Your modulate reads shift and scale through .data (or detached), so no gradient reaches adaLN's modulation: the conditioning never learns. Use the tensors themselves.", cell="modulate",
         replace=[("return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)", "return x * (1 + scale.data.unsqueeze(1)) + shift.data.unsqueeze(1)")]),
]

UNCATALOGUED = [
    # Exercise 1: modulate
    dict(name="modulates x in place", cell="modulate",
         replace=[("return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)",
                   "return x.mul_(1 + scale.unsqueeze(1)).add_(shift.unsqueeze(1))")]),
    dict(name="shift subtracted", cell="modulate",
         replace=[("return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)",
                   "return x * (1 + scale.unsqueeze(1)) - shift.unsqueeze(1)")]),
    dict(name="exp(scale) as the multiplier (log-scale)", cell="modulate",
         replace=[("x * (1 + scale.unsqueeze(1))", "x * torch.exp(scale.unsqueeze(1))")]),
    # Exercise 2: DiTBlock
    dict(name="MLP branch modulated with the attention chunks", cell="dit_block",
         replace=[("modulate(self.norm2(x), shift_mlp, scale_mlp)", "modulate(self.norm2(x), shift_msa, scale_msa)")]),
    dict(name="gates used as 1 + gate", cell="dit_block",
         replace=[("x = x + gate_msa.unsqueeze(1) * self.attention(", "x = x + (1 + gate_msa.unsqueeze(1)) * self.attention("),
                  ("x = x + gate_mlp.unsqueeze(1) * self.mlp(", "x = x + (1 + gate_mlp.unsqueeze(1)) * self.mlp(")]),
    dict(name="MLP residual connection dropped", cell="dit_block",
         replace=[("x = x + gate_mlp.unsqueeze(1) * self.mlp(", "x = gate_mlp.unsqueeze(1) * self.mlp(")]),
    # Exercise 3: adaln_zero_
    dict(name="zeroes a deep copy, not the block itself", cell="adaln_zero",
         replace=[("    linear = block.adaLN_modulation[-1]\n",
                   "    block = copy.deepcopy(block)\n    linear = block.adaLN_modulation[-1]\n")]),
    dict(name="only the shift and scale chunks zeroed (gates keep their init)", cell="adaln_zero",
         source=("def adaln_zero_(block):\n"
                 "    linear = block.adaLN_modulation[-1]\n"
                 "    with torch.no_grad():\n"
                 "        linear.weight.view(6, -1, linear.weight.shape[1])[[0, 1, 3, 4]] = 0\n"
                 "        linear.bias.view(6, -1)[[0, 1, 3, 4]] = 0\n"
                 "    return block\n")),
]

CORRECT = [
    dict(name="torch.addcmul with indexing for the token axis", cell="modulate",
         replace=[("return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)",
                   "return torch.addcmul(shift[:, None, :], x, 1 + scale[:, None, :])")]),
    dict(name="zero_ under no_grad over the Linear's parameters", cell="adaln_zero",
         source=("def adaln_zero_(block: DiTBlock) -> DiTBlock:\n"
                 "    with torch.no_grad():\n"
                 "        for p in block.adaLN_modulation[-1].parameters():\n"
                 "            p.zero_()\n"
                 "    return block\n")),
]
