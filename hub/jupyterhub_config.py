"""JupyterHub for a class whose laptops cannot run the course: every student gets the course in a browser.

The guide is docs/class_hub.md. Use this file as it is (``jupyterhub -f hub/jupyterhub_config.py``) or drop it
into The Littlest JupyterHub's ``/opt/tljh/config/jupyterhub_config.d/``; TLJH then keeps its own authenticator
and spawner (SystemdSpawner, which enforces the limits below) unless DEEPCODER_HUB_SPAWNER says otherwise.

What it sets, each from an environment variable of the hub's process (defaults in brackets):
  * the course's own environment as every student's server: DEEPCODER_VENV [<course>/.venv] runs
    ``jupyterhub-singleuser`` with the course's server configuration (memory indicator, idle kernels culled);
  * a copy of the notebooks in each student's home, made at their first login: DEEPCODER_HUB_FOLDER [deepcoder];
  * the prepared model cache shared read-only: DEEPCODER_CACHE [/srv/deepcoder/cache], prepared once by the
    teacher with ``python -m deepcoder_lib prepare --all`` (the model, the Qwen2 tokenizer and the twins);
  * the class model server's URL for every student: DEEPCODER_SERVER [none] (and DEEPCODER_API_KEY);
  * a memory and CPU limit per student: DEEPCODER_HUB_MEM [2G], DEEPCODER_HUB_CPU [1] (enforced by SystemdSpawner
    or a container spawner; the local spawners only show the memory limit in the status bar);
  * idle student servers stopped by jupyterhub-idle-culler: DEEPCODER_HUB_IDLE_MINUTES [60];
  * torch's threads per student kernel: DEEPCODER_HUB_THREADS [1];
  * where the hub listens: DEEPCODER_HUB_IP [0.0.0.0], DEEPCODER_HUB_PORT [8000].
DEEPCODER_HUB_SPAWNER picks the spawner: unset (JupyterHub's or TLJH's), "local" (one system user per student),
"systemd" (jupyterhub-systemdspawner) or "simple" (every student as the hub's own user, homes under
DEEPCODER_HUB_HOMES, passwords DEEPCODER_HUB_PASSWORD: a trial on one machine, and the course's tests).
"""
import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub defines it when it loads this file)

COURSE = Path(os.environ.get("DEEPCODER_COURSE", Path(__file__).resolve().parents[1]))
VENV = Path(os.environ.get("DEEPCODER_VENV", COURSE / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
FOLDER = os.environ.get("DEEPCODER_HUB_FOLDER", "deepcoder")
CACHE = os.environ.get("DEEPCODER_CACHE", "/srv/deepcoder/cache")
IDLE_MINUTES = int(os.environ.get("DEEPCODER_HUB_IDLE_MINUTES", "60"))
SERVER_CONFIG = COURSE / "deepcoder_lib" / "data" / "jupyter_server_config.json"

c.JupyterHub.ip = os.environ.get("DEEPCODER_HUB_IP", "0.0.0.0")
c.JupyterHub.port = int(os.environ.get("DEEPCODER_HUB_PORT", "8000"))

# Every student's server: the course's environment and its JupyterLab configuration, opening notebook 00.
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.args = [f"--config={SERVER_CONFIG}"]
c.Spawner.notebook_dir = f"~/{FOLDER}"
c.Spawner.default_url = "/lab/tree/00_start_here.ipynb"
c.Spawner.mem_limit = os.environ.get("DEEPCODER_HUB_MEM", "2G")  # also shown by the memory indicator (MEM_LIMIT)
c.Spawner.cpu_limit = float(os.environ.get("DEEPCODER_HUB_CPU", "1"))
c.Spawner.environment = {
    "DEEPCODER_CACHE": CACHE,
    "HF_HUB_OFFLINE": "1",  # the class runs on the shared, prepared model; nothing is downloaded per student
    # torch's threads per kernel: with many students per core, more than one thread only spins (docs/class_hub.md)
    "OMP_NUM_THREADS": os.environ.get("DEEPCODER_HUB_THREADS", "1"),
    **{k: os.environ[k] for k in ("DEEPCODER_SERVER", "DEEPCODER_API_KEY", "DEEPCODER_CHECKPOINT") if k in os.environ},
}
c.Spawner.http_timeout = 120  # a student's first start imports the course's packages: slow on a busy server
c.Spawner.start_timeout = 180


def copy_notebooks(spawner):
    """At a student's start: the course notebooks into ~/FOLDER, once (their own edits are never overwritten)."""
    template = getattr(spawner, "home_dir_template", None)  # SimpleLocalProcessSpawner's homes
    home = Path(template.format(username=spawner.user.name) if template
                else os.path.expanduser(f"~{spawner.user.name}"))
    target = home / FOLDER
    if target.exists():
        return
    shutil.copytree(COURSE / "notebooks", target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    if not template and hasattr(os, "getuid") and os.getuid() == 0:  # system users: the copy is the student's
        import pwd
        entry = pwd.getpwnam(spawner.user.name)
        for path in [target, *target.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)


c.Spawner.pre_spawn_hook = copy_notebooks

spawner = os.environ.get("DEEPCODER_HUB_SPAWNER", "")
if spawner == "local":
    c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
elif spawner == "systemd":
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
elif spawner == "simple":
    homes = Path(os.environ.get("DEEPCODER_HUB_HOMES", "/srv/deepcoder/homes"))
    c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
    c.SimpleLocalProcessSpawner.home_dir_template = str(homes / "{username}")
    c.Spawner.notebook_dir = str(homes / "{username}" / FOLDER)
    c.JupyterHub.authenticator_class = "jupyterhub.auth.DummyAuthenticator"
    c.DummyAuthenticator.password = os.environ["DEEPCODER_HUB_PASSWORD"]  # a shared class password: trials only
    c.Authenticator.allow_all = True
    if os.getuid() == 0:
        c.Spawner.args.append("--allow-root")
elif spawner:
    raise ValueError(f"DEEPCODER_HUB_SPAWNER must be local, systemd or simple, got {spawner!r}; "
                     "leave it unset to keep JupyterHub's (or TLJH's) own spawner")

# Stop servers idle for IDLE_MINUTES (each holds ~1 GiB with the model loaded); kernels inside a running
# server are culled after 30 idle minutes by the course's own server configuration.
c.JupyterHub.load_roles = [{"name": "idle-culler", "services": ["idle-culler"],
                            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}]
c.JupyterHub.services = [{"name": "idle-culler",
                          "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                                      f"--timeout={IDLE_MINUTES * 60}"]}]
