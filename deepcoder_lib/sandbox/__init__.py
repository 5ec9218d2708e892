"""The course sandbox: run model-written Python in a separate, limited process. This file only re-exports.

``runner`` holds ``run_code`` and ``RunResult`` (what a run is allowed, what it returns), ``bwrap``
the bubblewrap command line and what this machine allows, ``seccomp`` the system calls a run may
not make, ``cgroup`` the memory and process cgroup of a run where the machine gives one, ``tree`` the
process that starts, watches and kills a run's whole process tree, ``fallback`` the clean-up
without bubblewrap. ``extract_code`` (from ``deepcoder_lib.extract``) pulls the
code out of a model's answer. Read ``runner``'s docstring for what is isolated and what is not.
"""
from ..extract import extract_code
from .runner import ISOLATIONS, NOBODY, RunResult, SandboxWarning, bwrap_available, isolation_status, run_code

__all__ = ["ISOLATIONS", "NOBODY", "RunResult", "SandboxWarning", "bwrap_available", "extract_code",
           "isolation_status", "run_code"]
