"""deepcoder_lib: the helper library behind the deepcoder notebooks. This file only re-exports."""
__version__ = "0.1.0"
