# Answers for notebooks/14_adapters_in_practice.ipynb (scripts/make_solutions.py builds solutions/14_adapters_in_practice.ipynb)

# %% nb14-29
r = 16
extra_multiply_adds = 0
for block in model.model.layers:
    for layer in (block.mlp.gate_proj, block.mlp.up_proj, block.mlp.down_proj):
        extra_multiply_adds += r * layer.in_features + layer.out_features * r  # A x, then B (A x)
check_extra_work(model, extra_multiply_adds)
