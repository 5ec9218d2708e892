# Answers for notebooks/13_lora.ipynb (scripts/make_solutions.py builds solutions/13_lora.ipynb)

# %% 5794fd95
print(model.model.layers[0].mlp)  # gate_proj and up_proj: 576 -> 1536 each
r = 4
lora_mlp_params = model.config.num_hidden_layers * 2 * r * (576 + 1536)
check_lora_params(model, lora_mlp_params)
