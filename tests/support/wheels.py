"""Tiny pure-Python wheels, built by the tests themselves (no network): a
wheel is a zip of the package, its METADATA, WHEEL and RECORD."""
import base64
import hashlib
import os
import zipfile


def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(folder, name, version, source, requires=()):
    """Writes <name>-<version>-py3-none-any.whl into `folder`: a module
    `name` whose code is `source`; returns its path."""
    info = "%s-%s.dist-info" % (name, version)
    files = {
        "%s.py" % name: source,
        info + "/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (
            name, version, "".join("Requires-Dist: %s\n" % r for r in requires)),
        info + "/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        info + "/top_level.txt": name + "\n",
    }
    path = os.path.join(folder, "%s-%s-py3-none-any.whl" % (name, version))
    record = []
    with zipfile.ZipFile(path, "w") as z:
        for arc, text in files.items():
            data = text.encode()
            z.writestr(arc, data)
            record.append("%s,%s,%d" % (arc, _digest(data), len(data)))
        record.append(info + "/RECORD,,")
        z.writestr(info + "/RECORD", "\n".join(record) + "\n")
    return path
