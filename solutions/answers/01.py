# Answers for notebooks/01_tokenizers.ipynb: one natural way to solve each "Try it" cell.
# %% 3ff71be2
prediction = 8   # 'for', ' i', ' in', ' range', '(', '1', '0', '):'
check_token_count(prediction)

# %% 90066b54
text = "e\N{COMBINING ACUTE ACCENT}"   # é as two code points; Qwen2 normalizes it (NFC) to the single code point é
check_round_trip(text)
