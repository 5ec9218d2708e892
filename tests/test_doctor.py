"""The classroom doctor reports each problem with its fix, and its exit code tells a script."""
import os
import subprocess
import sys

import pytest

from deepcoder_lib import doctor


def _run(*args, **env):
    return subprocess.run([sys.executable, "-m", "deepcoder_lib", "doctor", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_doctor_says_ready_on_a_prepared_machine():
    out = _run(HF_HUB_OFFLINE="1")
    assert out.returncode == 0, out.stdout + out.stderr
    for name in ("python", "packages", "widget extension", "live charts", "embedded model", "memory", "disk", "accelerator", "hub"):
        assert name in out.stdout
    assert "loads and runs in" in out.stdout and "READY" in out.stdout
    assert len(out.stdout.splitlines()) < 25  # one screen


def test_live_charts_need_the_ipympl_lab_extension(tmp_path):
    check = doctor.check_live_charts()  # this machine: installed from requirements.txt
    assert check.status == doctor.OK and "jupyter-matplotlib" in check.detail, check.line()
    check = doctor.check_live_charts(search=[tmp_path])  # a JupyterLab without the extension
    assert check.status == doctor.FAIL and "extension (jupyter-matplotlib) is missing" in check.detail
    assert "pip install --force-reinstall ipympl==0.10.0" in check.fix
    (tmp_path / "jupyter-matplotlib").mkdir()
    (tmp_path / "jupyter-matplotlib" / "package.json").write_text('{"version": "0.12.0"}')
    assert doctor.check_live_charts(search=[tmp_path]).detail.endswith("jupyter-matplotlib 0.12.0")


def test_unprepared_model_fails_with_the_fix(tmp_path):
    out = _run("--no-load", DEEPCODER_CACHE=str(tmp_path), HF_HUB_OFFLINE="1")
    assert out.returncode == 1
    assert "✘ embedded model" in out.stdout
    assert "fix: python -m deepcoder_lib prepare" in out.stdout
    assert "NOT READY" in out.stdout


def test_unreachable_hub_is_a_warning_not_a_failure(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    check = doctor.check_hub(timeout=1)
    assert check.status == doctor.WARN and "not reachable" in check.detail


def test_version_drift_is_reported(tmp_path, monkeypatch):
    req = tmp_path / "requirements.txt"
    req.write_text("torch==0.0.1\nno-such-package-xyz==1.0\n")
    monkeypatch.setattr(doctor, "_requirements_file", lambda: req)
    check = doctor.check_packages()
    assert check.status == doctor.FAIL and "no-such-package-xyz" in check.detail
    req.write_text("torch==0.0.1\n")
    check = doctor.check_packages()
    assert check.status == doctor.WARN and "torch" in check.detail and "want 0.0.1" in check.detail


def test_pins_are_read_from_requirements():
    pins = doctor.pinned_requirements()
    assert pins["torch"] == "2.13.0" and pins["transformers"].startswith("5.")


@pytest.mark.parametrize("cuda,gpu,status,words", [
    (None, False, doctor.OK, "CPU build"),
    ("12.8", True, doctor.OK, "CUDA 12.8 build, NVIDIA GPU present"),
    ("12.8", False, doctor.WARN, "without an NVIDIA GPU, 4.0 GB of NVIDIA libraries"),
])
def test_torch_build(cuda, gpu, status, words):
    check = doctor.torch_build_check(cuda, gpu, 4 * 1024 ** 3)
    assert check.status == status and words in check.detail
    if status == doctor.WARN:
        assert "DEEPCODER_TORCH=cpu" in check.fix


def test_this_machine_has_the_cpu_build():
    """CI installs from the local CPU build; a CUDA build here would be the GBs issue 12 is about."""
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU machine")
    assert doctor.check_torch_build().detail.startswith("CPU build")


def test_course_device_is_shown_and_a_bad_value_fails(monkeypatch):
    monkeypatch.delenv("DEEPCODER_DEVICE", raising=False)
    assert "notebooks load with AutoModelForCausalLM.from_pretrained(checkpoint" in doctor.check_course_device().detail
    monkeypatch.setenv("DEEPCODER_DEVICE", "tpu")
    check = doctor.check_course_device()
    assert check.status == doctor.FAIL and "DEEPCODER_DEVICE" in check.detail and "unset" in check.fix


@pytest.mark.parametrize("version, status", [((3, 11, 7), doctor.OK), ((3, 12, 1), doctor.OK), ((3, 13, 0), doctor.OK),
                                             ((3, 14, 0), doctor.WARN), ((3, 10, 12), doctor.FAIL)])
def test_check_python_supports_311_to_313(version, status):
    check = doctor.check_python(version)
    assert check.status == status, check
    if status != doctor.OK:
        assert "3.13" in check.fix


@pytest.mark.parametrize("environ, user_ns, vscode", [
    ({}, {}, False),
    ({"VSCODE_PID": "123"}, {}, True),
    ({}, {"__vsc_ipynb_file__": "/home/a/00_start_here.ipynb"}, True),
    ({"JPY_PARENT_PID": "9"}, {"In": []}, False),
])
def test_check_editor_recognises_a_vscode_kernel(environ, user_ns, vscode):
    check = doctor.check_editor(environ, user_ns)
    assert (check.status == doctor.WARN) is vscode
    if vscode:
        assert "widgetScriptSources" in check.detail and "DEEPCODER_CHART=png" in check.detail
        assert "docs/where_to_run.md" in check.fix
