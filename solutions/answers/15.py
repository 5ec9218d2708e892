# Answers for notebooks/15_quantized_and_other_adapters.ipynb (scripts/make_solutions.py builds solutions/15_quantized_and_other_adapters.ipynb)

# %% nb15-07
fixed = """
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from peft import PeftModel

checkpoint = "bigcode/starcoderbase-7b"
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
base_model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.bfloat16, device_map="auto")
model = PeftModel.from_pretrained(base_model, "bigcode/astraios-7b-lora")  # mainline peft loads the LoRA variant
inputs = tokenizer("def print_hello_world():", return_tensors="pt").to(model.device)
outputs = model.generate(**inputs, max_new_tokens=128)
print(tokenizer.decode(outputs[0], skip_special_tokens=True))
"""
check_fixed_snippet(fixed)
