"""Builds the TF test graphs (frozen GraphDefs) with the real TensorFlow.

    python tf_models.py OUTDIR

writes one <name>.pb per graph.  Run in a subprocess once per test session:
importing TensorFlow takes seconds and hundreds of MB."""
import os
import sys


def graphs():
    import tensorflow as tf

    v1 = tf.compat.v1
    out = {}

    def build(name, fn):
        g = tf.Graph()
        with g.as_default():
            fn(v1)
        out[name] = g.as_graph_def().SerializeToString()

    def mul(dtype):
        def fn(v1):
            a = v1.placeholder(dtype, name="a")
            b = v1.placeholder(dtype, name="b")
            tf.multiply(a, b, name="c")
        return fn

    build("mul_float", mul(tf.float32))
    build("mul_int32", mul(tf.int32))
    build("mul_double", mul(tf.float64))

    def strings(v1):
        a = v1.placeholder(tf.string, name="a")
        tf.identity(a, name="c")
        tf.strings.join([a, a], separator="-", name="d")
    build("string_ident", strings)

    def ident(v1):
        a = v1.placeholder(tf.float32, name="a")
        tf.identity(a, name="c")
    build("ident_float", ident)

    def two_out(v1):
        a = v1.placeholder(tf.int64, name="a")
        b = v1.placeholder(tf.int64, name="b")
        tf.add(a, b, name="sum")
        tf.greater(a, b, name="gt")
    build("two_out", two_out)

    # Reference ConfigProto encodings (TF's own protobuf serializer) for the
    # thread settings the tests use, named config_<intra>_<inter>.
    for intra, inter in CONFIGS:
        cp = v1.ConfigProto(intra_op_parallelism_threads=intra, inter_op_parallelism_threads=inter)
        out["config_%d_%d" % (intra, inter)] = cp.SerializeToString()
    return out


CONFIGS = [(3, 2), (300, 0), (0, 5)]


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name, data in graphs().items():
        with open(os.path.join(outdir, name + ".pb"), "wb") as f:
            f.write(data)
