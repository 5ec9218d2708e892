# Answers for notebooks/00_start_here.ipynb: one natural way to solve each "Try it" cell.
# %% f722d873
from deepcoder_lib.exercises.nb00 import check_first_exercise, check_offline_checkpoint

answer = 19   # the course map lists 01 to 19 after this notebook
check_first_exercise(answer)

# %% 7bec6194
my_checkpoint = checkpoint   # the prepared local folder: from_pretrained reads it from disk, no hub needed
check_offline_checkpoint(my_checkpoint)
