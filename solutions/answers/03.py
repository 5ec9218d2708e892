# Answers for notebooks/03_loading_models.ipynb: one natural way to solve each "Try it" cell.
# %% 03-25
layer_params = sum(p.numel() for p in model.model.layers[0].parameters())
check_layer_params(model, layer_params)

# %% 03-27
head_dim = qwen_config.hidden_size // qwen_config.num_attention_heads
# layers x tokens x 2 (a key and a value) x key/value heads x head_dim x 2 bytes (bfloat16)
qwen_kv_bytes = qwen_config.num_hidden_layers * 32_768 * 2 * qwen_config.num_key_value_heads * head_dim * 2
check_kv_cache(qwen_kv_bytes)
