"""Runs inside .venv-redisai-client (the PyPI `redisai` 1.3.0 client) for
test_redisai_client.py.  Reads {"socket", "protocol", "ops"} as JSON on
stdin, performs each op with the client and prints one JSON result per op.
Arrays travel as {"dtype", "shape", "b64"} (STRING arrays as "strings").
An op that raises gives {"error": <class name>, "text": <message>}."""
import base64
import json
import sys
from importlib import metadata

import numpy as np
import redisai


def to_array(spec):
    if "strings" in spec:
        return np.array(spec["strings"], dtype="str").reshape(spec["shape"])
    raw = base64.b64decode(spec["b64"])
    return np.frombuffer(raw, dtype=spec["dtype"]).reshape(spec["shape"])


def from_array(a):
    if a.dtype.kind == "U":
        return {"dtype": "str", "shape": list(a.shape), "strings": a.ravel().tolist()}
    return {"dtype": str(a.dtype), "shape": list(a.shape),
            "b64": base64.b64encode(a.tobytes()).decode(), "writeable": a.flags.writeable}


def run(con, op):
    kind = op["op"]
    if kind == "tensorset":
        return con.tensorset(op["key"], to_array(op["array"]))
    if kind == "tensorset_list":
        return con.tensorset(op["key"], op["values"], shape=op.get("shape"), dtype=op["dtype"])
    if kind == "tensorget":
        return from_array(con.tensorget(op["key"]))
    if kind == "tensorget_list":
        return con.tensorget(op["key"], as_numpy=False)
    if kind == "tensorget_meta":
        return con.tensorget(op["key"], meta_only=True)
    if kind == "pipeline":
        pipe = con.pipeline(transaction=op["transaction"])
        for key, spec in op["set"]:
            pipe.tensorset(key, to_array(spec))
        for key in op["get"]:
            pipe.tensorget(key)
        out = pipe.execute()
        return [from_array(x) if isinstance(x, np.ndarray) else x for x in out]
    if kind == "modelstore":
        with open(op["path"], "rb") as f:
            return con.modelstore(op["key"], op["backend"], "CPU", f.read(), tag=op.get("tag"))
    if kind == "modelexecute":
        return con.modelexecute(op["key"], op["inputs"], op["outputs"])
    if kind == "scriptset":
        return con.scriptset(op["key"], "CPU", op["source"])
    if kind == "scriptstore":
        return con.scriptstore(op["key"], "CPU", op["source"], op["entry_points"])
    if kind == "scriptrun":
        return con.scriptrun(op["key"], op["function"], op["inputs"], op["outputs"])
    if kind == "scriptexecute":
        return con.scriptexecute(op["key"], op["function"], keys=op.get("keys"), inputs=op.get("inputs"),
                                 args=op.get("args"), outputs=op.get("outputs"))
    if kind == "modelget":
        got = con.modelget(op["key"], meta_only=True)
        return {k: v for k, v in got.items() if k != "blob"}
    if kind == "info":  # a section by name, as redis-py parses it (fields in order)
        return list(con.info(op["section"]).items())
    if kind == "info_sections":  # the section names of INFO MODULES, by position
        parse = con.response_callbacks["INFO"]
        con.set_response_callback("INFO", lambda raw, **_: raw)  # the text as sent
        text = con.execute_command("INFO", "MODULES")
        con.set_response_callback("INFO", parse)
        text = text.decode() if isinstance(text, bytes) else text
        return [line[2:] for line in text.splitlines() if line.startswith("# ")]
    raise ValueError("unknown op " + kind)


def main():
    req = json.load(sys.stdin)
    con = redisai.Client(unix_socket_path=req["socket"], protocol=req["protocol"])
    results = []
    for op in req["ops"]:
        try:
            results.append({"ok": run(con, op)})
        except Exception as e:  # reported to the test, which decides
            results.append({"error": type(e).__name__, "text": str(e)})
    versions = {name: metadata.version(name) for name in ("redisai", "redis", "numpy")}
    json.dump({"versions": versions, "results": results}, sys.stdout,
              default=lambda o: o.decode() if isinstance(o, bytes) else repr(o))


if __name__ == "__main__":
    main()
