"""docker/Dockerfile, built and run as a user would, with buildah (the
Docker engine does not run on this project's machines; buildah builds the
same Dockerfile and runs its image with chroot isolation).  The image's
entry command serves the modules of `make install`; the README's
walk-through then runs against it from outside the container.

The base image, Debian 12, is made locally with debootstrap from Debian's
packages when it is missing (no image registry is reachable here).  Where
this machine's pip reads a local index, its settings are handed to the build
(docker/README.md)."""
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import redis

from support.server import ROOT, free_port

BASE = "localhost/debian12-base:bookworm"
IMAGE = "localhost/redisai-ext:test"
LOCAL_PIP = ["/opt/wheels", "/opt/pypi", "/opt/pypi-more"]  # this machine's local index, if any

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("buildah") is None and not os.environ.get("CI"),
                                 reason="buildah is not installed (scripts/test.sh installs it)")]


def sh(*args, timeout=1800, **kw):
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    assert proc.returncode == 0, "%s failed:\n%s\n%s" % (args[:3], proc.stdout[-3000:], proc.stderr[-3000:])
    return proc.stdout.strip()


def ensure_base_image():
    if subprocess.run(["buildah", "inspect", "--type", "image", BASE], capture_output=True).returncode == 0:
        return
    ctr = sh("buildah", "from", "scratch")
    try:
        root = sh("buildah", "mount", ctr)
        sh("debootstrap", "--variant=minbase", "bookworm", root, "http://deb.debian.org/debian")
        sh("buildah", "commit", "-q", ctr, BASE)
    finally:
        subprocess.run(["buildah", "rm", ctr], capture_output=True)
        subprocess.run(["buildah", "rmi", "-f", IMAGE], capture_output=True)  # 1.8 GB a build


def pip_settings(cfg_dir):
    """buildah bud arguments handing this machine's pip index and CA to the build."""
    args = []
    mounts = [d for d in LOCAL_PIP if os.path.isdir(d)]
    if not mounts:
        return args
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", cfg_dir / "ca.crt")
    lines = ["[global]", "cert = /run/buildcfg/ca.crt",
             "extra-index-url = " + " ".join("file://%s/simple" % d for d in mounts if d != "/opt/wheels"),
             "find-links = /opt/wheels"]
    if os.path.exists("/etc/xdg/pip/constraints.txt"):
        shutil.copy("/etc/xdg/pip/constraints.txt", cfg_dir / "constraints.txt")
        lines.append("constraint = /run/buildcfg/constraints.txt")
    (cfg_dir / "pip.conf").write_text("\n".join(lines) + "\n")
    args += ["--build-arg", "PIP_CONFIG_FILE=/run/buildcfg/pip.conf", "-v", "%s:/run/buildcfg:ro" % cfg_dir]
    for d in mounts:
        args += ["-v", "%s:%s:ro" % (d, d)]
    return args


def test_image_serves_the_walk_through(tmp_path):
    ensure_base_image()
    cfg = tmp_path / "buildcfg"
    cfg.mkdir()
    sh("buildah", "bud", "-q", "--isolation", "chroot", "--layers=false", "--build-arg", "BASE=" + BASE,
       *pip_settings(cfg), "-t", IMAGE, "-f", "docker/Dockerfile", ".", cwd=ROOT, timeout=3000)
    entry = sh("buildah", "inspect", "--type", "image", "--format", "{{.OCIv1.Config.Entrypoint}}", IMAGE)
    assert "/opt/redisai-ext/bin/serve.sh" in entry

    ctr = sh("buildah", "from", IMAGE)
    port = free_port()
    # The entry command with a free port on loopback (chroot isolation
    # shares this machine's network).
    proc = subprocess.Popen(["buildah", "run", "--isolation", "chroot", ctr, "--",
                             "/opt/redisai-ext/bin/serve.sh", "--modules", "/opt/redisai-ext/lib/redisai-ext",
                             "--dir", "/data", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        c = redis.Redis(port=port)
        deadline = time.time() + 60
        while True:
            try:
                if c.ping():
                    break
            except redis.ConnectionError:
                assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
                time.sleep(0.2)
        assert sorted(m[b"name"] for m in c.module_list()) == [b"ai", b"rg"]
        assert c.config_get("dir")["dir"] == "/data"

        model = tmp_path / "linear.onnx"
        sh(sys.executable, os.path.join(ROOT, "examples", "make_linear_onnx.py"), str(model))
        assert c.execute_command("AI.MODELSTORE", "demo:linear", "ONNX", "CPU", "BLOB", model.read_bytes()) == b"OK"
        with open(os.path.join(ROOT, "examples", "flow.py")) as f:
            assert c.execute_command("RG.PYEXECUTE", f.read()) == b"OK"
        c.execute_command("AI.TENSORSET", "demo:x", "FLOAT", 2, 3, "VALUES", 1, 2, 3, 4, 5, 6)
        x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
        w = np.array([[1, 2], [3, 4], [5, 6]], dtype=np.float32)
        expected = (x @ w + np.array([0.5, -1.0], dtype=np.float32)).ravel().tolist()
        assert c.execute_command("RG.TRIGGER", "predict", "demo:x", "demo:y") == [str(expected).encode()]
    finally:
        try:
            redis.Redis(port=port).shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # not up, or SHUTDOWN closed the connection
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run(["buildah", "rm", ctr], capture_output=True)
        subprocess.run(["buildah", "rmi", "-f", IMAGE], capture_output=True)  # 1.8 GB a build
