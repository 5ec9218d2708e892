# Answers to the "Try it" exercises of notebooks/04_generation.ipynb (scripts/make_solutions.py builds the notebook).

# %% 04-21
prompt = "def circle_area(radius):\n    return"
raw_prompt = tokenizer(prompt, return_tensors="pt").to(model.device)  # raw text: no chat template
with torch.inference_mode():
    my_token_id = model(**raw_prompt).logits[0, -1].argmax()  # the last position scores the next token
check_next_token(model, tokenizer, prompt, my_token_id)

# %% 04-23
config = model.config
head_size = config.hidden_size // config.num_attention_heads
numbers = config.num_hidden_layers * 4096 * 2 * config.num_key_value_heads * head_size  # keys and values
my_mib = numbers * model.dtype.itemsize / 2**20
check_kv_cache_mib(model, my_mib, tokens=4096)
