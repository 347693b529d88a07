"""gears_requirements -- RG.PYEXECUTE ... REQUIREMENTS (spec gears-commands
§2): the packages a script needs, installed with pip into the host's
requirements directory, which is on sys.path (module argument
REQUIREMENTS_DIR; by default `python-requirements` in the server's directory
at start-up).  A requirement already met by the host's environment (or by an
earlier install) is used as it is, unless FORCE_REINSTALL_REQUIREMENTS.
Otherwise `pip wheel` fetches its wheels (from the package index, or from
the folder or index that REQUIREMENTS_INDEX names: servers without internet)
and `pip install` installs them, offline.  The wheels are kept: they travel
with the sessions that need them (RDB, replicas, AOF: src/host/script_store.c)
and with RG.PYEXPORTREQ / RG.PYIMPORTREQ, so that a server without network
installs exactly the same.  pip runs in the host venv's interpreter, in a
child process, off the main thread (src/host/requirements.c)."""
import importlib
import importlib.metadata
import json
import os
import platform
import secrets
import shutil
import struct
import subprocess
import sys
import threading

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Specifier
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

import redisgears
from redisgears import GearsError

DIR = os.path.abspath(redisgears._requirements_dir or "python-requirements")
INDEX = redisgears._requirements_index or None
if INDEX is not None and os.path.isdir(INDEX):
    INDEX = os.path.abspath(INDEX)
WHEELS = os.path.join(DIR, ".wheels")
PYTHON = os.path.join(sys.prefix, "bin", "python")
OS = "%s-%s" % (sys.platform, platform.machine())  # wheels are not portable across these
FORMAT = 1  # of the serialized requirements (GearReqVersion)
MAGIC = b"RGREQ"
CHUNK = 10 * 1024 * 1024  # RG.PYEXPORTREQ's largest chunk
NOT_DOWNLOADED = "Requirement was not yet downloaded so wheels are not available"

os.makedirs(WHEELS, exist_ok=True)
if DIR not in sys.path:
    sys.path.insert(0, DIR)  # before the venv: a requirement's version wins

_installing = threading.Lock()  # one pip at a time: they share the directory


class Requirement:
    """One requirement string as given ('pkg<2'), with its wheels."""

    def __init__(self, name, path=None, wheels=(), installed=False, os_name=OS):
        self.name, self.path, self.os = name, path, os_name
        self.wheels = list(wheels)  # file names in `path`
        self.installed = installed

    @property
    def downloaded(self):
        return self.path is not None

    def wheel_bytes(self):
        out = []
        for w in self.wheels:
            with open(os.path.join(self.path, w), "rb") as f:
                out.append((w, f.read()))
        return out

    def metadata(self, ref_count):
        """RG.PYDUMPREQS's map-array for it."""
        yes = lambda b: "yes" if b else "no"  # noqa: E731
        return ["GearReqVersion", FORMAT, "Name", self.name, "IsDownloaded", yes(self.downloaded),
                "IsInstalled", yes(self.installed), "CompiledOs", self.os,
                "Wheels", list(self.wheels) if self.downloaded else NOT_DOWNLOADED,
                "Path", self.path or "", "RefCount", ref_count, "IsInReqDictionary", "yes"]


REQUIREMENTS = {}  # requirement string -> Requirement, for the server's life
sessions = lambda: []  # noqa: E731  the live sessions (gears_runtime sets it)


def _text(b):
    return b.decode("utf-8", "surrogateescape") if isinstance(b, bytes) else b


def _specifier(text):
    try:
        return Specifier(text)
    except InvalidRequirement:
        raise GearsError("invalid requirement: %s" % text) from None


def _met(text):
    spec = _specifier(text)
    try:
        have = importlib.metadata.version(spec.name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return spec.specifier.contains(have, prereleases=True)


def to_install(texts, force):
    """RG.PYEXECUTE, main thread: the requirements pip must install (all of
    them with `force`); the others are met already and are noted as such.
    An invalid one raises."""
    importlib.invalidate_caches()
    todo = []
    for text in map(_text, texts):
        if force or not _met(text):
            todo.append(text)
        elif text not in REQUIREMENTS:
            REQUIREMENTS[text] = Requirement(text, installed=True)
    return todo


def _pip(*args):
    """Runs pip in the venv's interpreter; raises with pip's reason."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    cmd = [PYTHON, "-m", "pip", *args, "--disable-pip-version-check", "--no-input", "--no-cache-dir"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GearsError("Could not satisfy requirements: %s" % e) from None
    if done.returncode != 0:
        lines = [l for l in done.stderr.splitlines() if l.strip()]
        errors = [l for l in lines if l.startswith("ERROR")] or lines[-3:]
        raise GearsError("Could not satisfy requirements: " + " ".join(errors))


def _index_args():
    if INDEX is None:
        return []
    if os.path.isdir(INDEX):
        return ["--no-index", "--find-links", INDEX]
    return ["--index-url", INDEX]


def _new_path(text):
    safe = "".join(c if c.isalnum() else "_" for c in _specifier(text).name)
    path = os.path.join(WHEELS, "%s_%s" % (safe, secrets.token_hex(5)))
    os.makedirs(path)
    return path


def _host_versions():
    """{name: version} of the host environment's own distributions (not
    those installed in DIR)."""
    out = {}
    for d in importlib.metadata.distributions():
        name = d.metadata["Name"]
        if name and os.path.abspath(str(d.locate_file(""))) != DIR:
            out.setdefault(canonicalize_name(name), d.version)
    return out


def _asked(reqs):
    return {canonicalize_name(_specifier(r.name).name) for r in reqs}


def _download(text, path):
    """pip wheel: the requirement's wheels and its dependencies', those the
    host has at the version it has (a newer one in DIR would shadow the
    host's own, numpy say); the requirement itself at its newest."""
    asked = canonicalize_name(_specifier(text).name)
    pins = ["%s==%s\n" % (n, v) for n, v in _host_versions().items() if n != asked]
    constraints = os.path.join(path, "host-constraints.txt")
    with open(constraints, "w") as f:
        f.writelines(pins)
    try:
        _pip("wheel", "--wheel-dir", path, "--constraint", constraints, *_index_args(), text)
    finally:
        os.remove(constraints)


def _remove(fresh):
    for r in fresh:
        shutil.rmtree(r.path, ignore_errors=True)


def _install_or_remove(fresh, todo, force):
    """Installs `todo`; when that fails, the folders of `fresh` go too."""
    try:
        _install_wheels(todo, force)
    except BaseException:
        _remove(fresh)
        raise


def _install_wheels(reqs, force):
    """pip install of their wheels, offline, into DIR (the lock held); not
    the dependencies the host has already at that version."""
    host, asked, files = _host_versions(), _asked(reqs), []
    for r in reqs:
        for w in r.wheels:
            try:
                dist, version = parse_wheel_filename(w)[:2]
            except InvalidWheelFilename:
                raise GearsError("Could not satisfy requirements: %s is not a wheel file name" % w) from None
            if dist in asked or host.get(dist) != str(version):
                files.append(os.path.join(r.path, w))
    if files:  # dependencies were resolved when the wheels were made
        _pip("install", "--no-index", "--no-deps", "--target", DIR, "--upgrade",
             *(["--force-reinstall"] if force else []), *files)
    importlib.invalidate_caches()


def _forget_modules(reqs):
    """FORCE_REINSTALL_REQUIREMENTS: modules imported before are imported again."""
    names = set()
    for r in reqs:
        for w in r.wheels:
            dist = w.split("-")[0]
            try:
                top = importlib.metadata.distribution(dist).read_text("top_level.txt") or dist
            except importlib.metadata.PackageNotFoundError:
                top = dist
            names.update(n.strip().lower() for n in top.split() if n.strip())
    for mod in [m for m in sys.modules if m.split(".")[0].lower() in names]:
        del sys.modules[mod]


def install(texts, force):
    """Downloads the wheels of each requirement not met, then installs them
    all: a pool thread, the GIL let go while pip runs.  On failure nothing
    is kept, and the error has pip's reason."""
    with _installing:
        fresh = []
        try:
            for text in to_install(texts, force):
                path = _new_path(text)
                fresh.append(Requirement(text, path))
                _download(text, path)
                fresh[-1].wheels = sorted(f for f in os.listdir(path) if f.endswith(".whl"))
        except BaseException:
            _remove(fresh)
            raise
        _install_or_remove(fresh, fresh, force)
        for r in fresh:
            r.installed = True
            old = REQUIREMENTS.get(r.name)
            REQUIREMENTS[r.name] = r
            if old is not None and old.path:
                shutil.rmtree(old.path, ignore_errors=True)
        if force:
            _forget_modules(fresh)


# ---- serialized requirements: the RDB, replicas, RG.PYEXPORTREQ ----

def dumps(names):
    """The requirements `names` (those known) with their wheels, as bytes."""
    reqs = [REQUIREMENTS[n] for n in names if n in REQUIREMENTS]
    if not reqs:
        return b""
    wheels = [r.wheel_bytes() if r.downloaded else [] for r in reqs]
    header = json.dumps([{"name": r.name, "os": r.os, "downloaded": r.downloaded,
                          "wheels": [[n, len(b)] for n, b in ws]} for r, ws in zip(reqs, wheels)]).encode()
    return MAGIC + struct.pack(">BI", FORMAT, len(header)) + header + b"".join(
        b for ws in wheels for _, b in ws)


def _loads(blob):
    """[(name, os, downloaded, [(wheel name, bytes)])]; GearsError if malformed."""
    start = len(MAGIC) + 5
    if not blob.startswith(MAGIC) or len(blob) < start:
        raise GearsError("Bad serialization format on reading requirement name")
    version, size = struct.unpack(">BI", blob[len(MAGIC):start])
    if version > FORMAT:
        raise GearsError("Requirement version is not compatible, upgrade to newer RedisGears.")
    try:
        header = json.loads(blob[start:start + size])
    except ValueError:
        raise GearsError("Bad serialization format on reading requirement name") from None
    at, out = start + size, []
    for r in header:
        wheels = []
        for name, n in r["wheels"]:
            if os.path.basename(name) != name or not name.endswith(".whl"):
                raise GearsError("Bad serialization format on reading wheel file name")
            if at + n > len(blob):
                raise GearsError("Bad serialization format on reading wheel file data")
            wheels.append((name, blob[at:at + n]))
            at += n
        out.append((r["name"], r["os"], r["downloaded"], wheels))
    return out


def restore(blob, force=False):
    """Installs, offline, the requirements serialized in `blob` that are not
    met yet, from their wheels; returns their names.  A load, a replica, or
    RG.PYIMPORTREQ (`force`: install them even if met)."""
    with _installing:
        names, fresh = [], []
        for name, os_name, downloaded, wheels in _loads(blob):
            names.append(name)
            known = REQUIREMENTS.get(name)
            if not force and known is not None and known.installed:
                continue
            if not downloaded:
                REQUIREMENTS[name] = Requirement(name, installed=_met(name), os_name=os_name)
                continue
            r = Requirement(name, _new_path(name), [w for w, _ in wheels], os_name=os_name)
            for w, data in wheels:
                with open(os.path.join(r.path, w), "wb") as f:
                    f.write(data)
            fresh.append(r)
        _install_or_remove(fresh, [r for r in fresh if force or not _met(r.name)], force)
        for r in fresh:
            r.installed = True
            REQUIREMENTS[r.name] = r
        return names


def restore_saved(blob):
    """A saved session's requirements, on a load or a replica (main thread):
    their names.  A failure is logged; the script runs anyway (its imports
    then fail, in the log too)."""
    try:
        return restore(blob)
    except GearsError as e:
        redisgears.log("could not install the requirements of a saved session: %s" % e, level="warning")
        try:
            return [name for name, _, _, _ in _loads(blob)]
        except GearsError:
            return []


# ---- RG.PYDUMPREQS, RG.PYEXPORTREQ, RG.PYIMPORTREQ ----

def _ref_count(name):
    """The dictionary's hold, and each live session's."""
    return 1 + sum(1 for s in sessions() if name in s.requirements)


def _import(blob):
    if not blob:
        raise GearsError("Bad serialization format on reading requirement name")
    restore(blob, force=True)
    return "OK"


def command(op, args, waiter, may_block):
    """RG.PYDUMPREQS (DUMP), RG.PYEXPORTREQ name (EXPORT), RG.PYIMPORTREQ
    chunk... (IMPORT, which installs on a pool thread): the reply goes
    through `waiter`."""
    def reply(fn, *a):
        try:
            value, errors = fn(*a), []
        except GearsError as e:
            value, errors = None, [str(e)]
        redisgears._complete(waiter, [value], errors, 2)

    if op == "DUMP":
        reply(lambda: [r.metadata(_ref_count(r.name)) for r in list(REQUIREMENTS.values())])
    elif op == "EXPORT":
        reply(_export, _text(args[0]))
    elif not may_block:
        reply(_refuse_import)
    else:
        redisgears._submit(reply, _import, b"".join(args))


def _export(name):
    r = REQUIREMENTS.get(name)
    if r is None:
        raise GearsError("requirement does not exists")
    blob = dumps([name])
    return [r.metadata(_ref_count(name)), [blob[i:i + CHUNK] for i in range(0, len(blob), CHUNK)]]


def _refuse_import():
    raise GearsError("can not import requirements inside MULTI, Lua or while loading")
