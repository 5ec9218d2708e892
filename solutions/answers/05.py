# Answers to the "Try it" exercises of notebooks/05_streaming_and_speed.ipynb (scripts/make_solutions.py builds the notebook).

# %% 05-17
prompt_length = inputs["input_ids"].shape[1]
my_answer = tokenizer.decode(reference[0, prompt_length:], skip_special_tokens=True)
check_answer_only(tokenizer, reference, inputs, my_answer, output_name="reference")

# %% 05-19
my_count = int((answer_probs < 0.5).sum())  # True counts as 1
check_unsure_count(my_count, answer_probs, below=0.5)
