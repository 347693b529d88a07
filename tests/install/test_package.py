"""The `redisAI` Python API as a user installs it: `pip wheel .` with the
build requirements pyproject.toml declares (an isolated build), installed into
a fresh venv next to the PyPI `redisai` client.  Both import; removing the
client leaves ours whole (they used to share the import name `redisai`)."""
import os
import shutil
import subprocess
import sys

from support.server import ROOT

# The client's own pins (scripts/setup.sh installs the same for its venv).
CLIENT = ["redis==8.1.0", "numpy==2.4.6", "hiredis==3.5.0", "Deprecated==1.3.1", "wrapt==2.5.2",
          "six==1.17.0", "redisai==1.3.0"]
SOURCE_ONLY = shutil.ignore_patterns("build", ".venv*", ".git", "*.so", "__pycache__", "tests", "bench")


def run(*args, **kw):
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, "%s failed:\n%s\n%s" % (args[:4], proc.stdout[-2000:], proc.stderr[-4000:])
    return proc.stdout


def test_wheel_installs_next_to_the_redisai_client(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=SOURCE_ONLY)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "wheels"), str(src))
    wheels = os.listdir(tmp_path / "wheels")
    assert len(wheels) == 1 and wheels[0].startswith("redisai_ext_pyapi-"), wheels

    venv = tmp_path / "venv"
    run(sys._base_executable, "-m", "venv", str(venv))
    py = str(venv / "bin" / "python")
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run(*pip, "cffi==2.1.1", str(tmp_path / "wheels" / wheels[0]))
    run(*pip, "--no-deps", *CLIENT)

    probe = ("import redisAI, redisai, redisai_ext._redisai_ext as ext; "
             "print(redisai.Client.__name__, len(redisAI.__all__), ext.lib is not None)")
    assert run(py, "-c", probe, cwd=str(tmp_path)).split() == ["Client", "27", "True"]

    run(py, "-m", "pip", "uninstall", "-q", "-y", "redisai")
    assert run(py, "-c", "import redisAI; print(redisAI.createModelRunner.__name__)",
               cwd=str(tmp_path)).strip() == "createModelRunner"
