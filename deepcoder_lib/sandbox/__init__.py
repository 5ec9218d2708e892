"""The course sandbox: run model-written Python in a separate, limited process. This file only re-exports.

``runner`` holds ``run_code`` and ``RunResult`` (what a run is allowed, what it returns), ``bwrap``
the bubblewrap command line and what this machine allows, ``tree`` the process that starts, watches
and kills a run's whole process tree. ``extract_code`` (from ``deepcoder_lib.extract``) pulls the
code out of a model's answer. Read ``runner``'s docstring for what is isolated and what is not.
"""
from ..extract import extract_code
from .runner import ISOLATIONS, NOBODY, RunResult, SandboxWarning, bwrap_available, isolation_status, run_code

__all__ = ["ISOLATIONS", "NOBODY", "RunResult", "SandboxWarning", "bwrap_available", "extract_code",
           "isolation_status", "run_code"]
