# Answers for notebooks/11_big_models.ipynb (scripts/make_solutions.py builds solutions/11_big_models.ipynb)

# %% 11-24
import math

big = catalog.info("deepseek")
weights = catalog.estimate_memory("deepseek", "4bit")          # all 236B parameters: every expert stays in memory
kv = catalog.kv_cache_bytes("deepseek", 4096, 1, "bfloat16")
gpus = math.ceil((weights + kv) * 1.2 / 24e9)
check_moe_gpus(gpus)

# %% 11-26
free_here = psutil.virtual_memory().available
qwen_fp32_fits = catalog.info("qwen2").params * 4 * 1.2 <= free_here
check_fits_here(qwen_fp32_fits, free_here)
