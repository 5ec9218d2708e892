# Answers for notebooks/17_fill_in_the_middle.ipynb (scripts/make_solutions.py builds solutions/17_fill_in_the_middle.ipynb)

# %% f17a0020
print(SPM_PREFIX + "█" + SPM_SUFFIX)
# SPM, BigCode's variant: both markers first, then the suffix, the middle marker, and the prefix last
spm = "<fim_prefix>" + "<fim_suffix>" + SPM_SUFFIX + "<fim_middle>" + SPM_PREFIX
check_spm_prompt(spm)

# %% f17a0022
from deepcoder_lib.tokens import load_tokenizer

print(QWEN_MARKERS)
qwen2 = load_tokenizer("qwen2")
pieces = len(qwen2(QWEN_MARKERS, add_special_tokens=False)["input_ids"])  # all three at once: pieces merge at the joins
check_marker_pieces(pieces)

# %% f17a0024
hole = hole_task()
print(hole["prefix"] + "█" + hole["suffix"])
my_line = "distance = abs(elem - elem2)"  # the gap between the two numbers, whichever is larger
check_my_middle(my_line)
