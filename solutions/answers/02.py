# Answers for notebooks/02_bpe_and_code_tokens.ipynb: one natural way to solve each "Try it" cell.
# %% 821ac444
pair = "an"   # 'an' occurs 4 times in 'banana bandana' ('na' 3 times, 'ba' twice)
check_first_merge(pair)

# %% 440915d6
print(HIDDEN_IDS)
hidden_vocab = {i: bytes([i]) for i in range(256)}
for (a, b), new_id in training_merges().items():   # the merges the ids were encoded with, in the order learned
    hidden_vocab[new_id] = hidden_vocab[a] + hidden_vocab[b]
hidden_text = decode(HIDDEN_IDS, hidden_vocab)
check_hidden(hidden_text)

# %% bed346c0
gpt2_chunks = 5    # 'total', ' =', ' 365', ' *', ' 24': a space and a run of digits make one chunk
qwen2_chunks = 10  # 'total', ' =', ' ', '3', '6', '5', ' *', ' ', '2', '4': every digit alone
check_chunks(gpt2_chunks, qwen2_chunks)

# %% 157fbea9
eight_spaces = len(smol("        return x")["input_ids"])
two_tabs = len(smol("\t\treturn x")["input_ids"])
check_indentation(eight_spaces, two_tabs)
