"""A real redis-server for tests: private directory, unix socket (or a TCP
port verified free just before use), stopped by the PID it wrote."""
import glob
import os
import signal
import socket
import subprocess
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# REDISAI_BUILD picks another build tree (scripts/sanitize.sh: build-address).
BUILD = os.path.abspath(os.environ.get("REDISAI_BUILD") or os.path.join(ROOT, "build"))
ENGINE = os.path.join(BUILD, "redisai.so")
REDIS_SERVER = os.environ.get("REDIS_SERVER", "redis-server")
# The suite runs on Redis 7.0 and on Valkey 8.1 (REDIS_SERVER=.../valkey-server).
ON_VALKEY = "valkey" in os.path.basename(REDIS_SERVER)
# A sanitized build (scripts/sanitize.sh): redis-server itself is not
# instrumented, so the sanitizer runtime is preloaded into it, and each server
# writes its reports into its own directory (SANITIZER_LOG.<pid>), which
# stop() turns into a failure.  The options (suppressions, detect_leaks) come
# from the environment the script sets.
SANITIZER_PRELOAD = os.environ.get("REDISAI_SANITIZER_PRELOAD", "")
SANITIZER_LOG = "sanitizer.log"


def free_port():
    """A loopback TCP port that is free right now (never 6379)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != 6379:
            return port


class RedisServer:
    """One redis-server process.  `modules` is a list of (path, [args])."""

    def __init__(self, modules=(), tcp=False, config=(), dir=None):
        self.modules = list(modules)
        self.dir = dir or tempfile.mkdtemp(prefix="redisai-test-")
        self.sock = os.path.join(self.dir, "redis.sock")
        self.pidfile = os.path.join(self.dir, "redis.pid")
        self.logfile = os.path.join(self.dir, "redis.log")
        self.port = free_port() if tcp else 0
        self.config = list(config)
        self.proc = None
        self.server_pid = None
        self._clients = []

    def start(self):
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                "--unixsocket", self.sock, "--unixsocketperm", "700",
                "--pidfile", self.pidfile, "--logfile", self.logfile, "--dir", self.dir,
                "--save", "", "--appendonly", "no",
                "--enable-debug-command", "local", "--enable-module-command", "local"]
        for key_value in self.config:
            args += ["--" + key_value[0]] + [str(v) for v in key_value[1:]]
        for path, margs in self.modules:
            args += ["--loadmodule", path] + [str(a) for a in margs]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     env=self._env())
        self.server_pid = self.proc.pid
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.check_sanitizer()  # also when a test expects the exit
                raise RuntimeError("redis-server exited: %s" % self.log_tail())
            try:
                if self.client().ping():
                    return self
            except (redis.ConnectionError, FileNotFoundError):
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start: %s" % self.log_tail())

    def _env(self):
        if not SANITIZER_PRELOAD:
            return None
        env = dict(os.environ, LD_PRELOAD=SANITIZER_PRELOAD)
        # Programs the server runs (pip) inherit the preload: their exit
        # status must stay their own, so no sanitizer exit code here; the
        # report files decide (check_sanitizer).
        opts = "log_path=%s:exitcode=0" % os.path.join(self.dir, SANITIZER_LOG)
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            env[name] = ":".join(filter(None, [env.get(name), opts]))
        return env

    def _counts(self, path):
        """Every report of the server counts, and errors of its forks.  Not
        the leaks of programs it runs (pip, a shell: they inherit
        LD_PRELOAD), which are not ours; forks of the server end with _exit,
        which skips the leak check."""
        if path.endswith(".%d" % self.server_pid):
            return True
        with open(path, errors="replace") as f:
            return "ERROR: LeakSanitizer" not in f.read()

    def check_sanitizer(self):
        """Fails (AssertionError) when this server's processes wrote a
        sanitizer report."""
        reports = [path for path in sorted(glob.glob(os.path.join(self.dir, SANITIZER_LOG + ".*")))
                   if self._counts(path)]
        if reports:
            with open(reports[0], errors="replace") as f:
                first = f.read(20000)
            raise AssertionError("sanitizer report(s) of redis-server in %s (%d file(s)); the first:\n%s"
                                 % (self.dir, len(reports), first))

    def client(self, protocol=2, **kw):
        c = redis.Redis(unix_socket_path=self.sock, protocol=protocol, **kw)
        self._clients.append(c)
        return c

    def log_tail(self, n=30):
        try:
            with open(self.logfile) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_synced(self, timeout=20):
        """As a replica: waits until its link to the master is up."""
        c = self.client(decode_responses=True)
        deadline = time.time() + timeout
        while c.info("replication").get("master_link_status") != "up":
            assert time.time() < deadline, "replica did not sync; its log ends with:\n" + self.log_tail(20)
            time.sleep(0.05)

    def stop(self, timeout=15):
        """SIGTERM the PID the server wrote, then wait; SIGKILL if it hangs."""
        for c in self._clients:
            c.close()
        self._clients = []
        if self.proc is None:
            return None
        pid = self.proc.pid
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            pass
        if self.proc.poll() is None:
            os.kill(pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        self.check_sanitizer()
        return code

    def restart(self, config=None):
        """Stops and starts again in the same directory (RDB/AOF survive)."""
        self.stop()
        if config is not None:
            self.config = list(config)
        return self.start()
