"""redisAI tensor functions inside a flow: success paths, conversions, and
every argument check of spec §5.1 with its exact text, in order."""
import pytest

from support.flows import ev, gears_error, ok

R = "import redisAI as ai\n"


def test_module_surface(ai):
    _, c = ai
    assert ok(c, R + "result = ai.__doc__") == "export methods provide by redisAI."
    assert ok(c, R + "t = ai.createTensorFromValues('FLOAT', [1], [1.0])\n"
                     "result = (type(t).__module__, type(t).__name__, ai.PyTensor is type(t))") == \
        ("redisgears", "PyTensor", True)
    # GearsError is the host's class; redisAI does not define/re-export one.
    assert ok(c, R + "result = hasattr(ai, 'GearsError')") is False
    assert ok(c, R + "try:\n ai.tensorGetDims(1)\nexcept Exception as e:\n"
                     " result = type(e) is redisgears.GearsError") is True


@pytest.mark.parametrize("code,attr,type_name", [
    ("x = ai.createTensorFromValues('FLOAT', [2], [1.0, 2.0])\nx._dtype = 5", "_dtype", "PyTensor"),
    ("x = ai.createTensorFromValues('FLOAT', [2], [1.0, 2.0])\ndel x._ptr", "_ptr", "PyTensor"),
    ("x = ai.PyGraphRunner()\nx._ctx = None", "_ctx", "PyGraphRunner"),
    ("x = ai.createDAGRunner()\nx._dag = ai.createDAGRunner()._dag", "_dag", "PyDAGRunner"),
    ("x = ai.createTensorFromValues('FLOAT', [2], [1.0, 2.0])\nx.anything = 1", "anything", "PyTensor"),
])
def test_attributes_are_read_only(ai, code, attr, type_name):
    # Spec §4: the objects expose no attributes.  Their slots hold engine
    # pointers; one copied into a second runner was freed twice (a crash),
    # a changed dtype read past the tensor's buffer.
    _, c = ai
    assert ev(c, R + code) == f"EX:AttributeError:'{type_name}' object attribute '{attr}' is read-only"
    if type_name == "PyTensor":  # and the tensor is as it was
        assert ok(c, R + code.split("\n")[0] + "\ntry:\n " + code.split("\n")[1] +
                  "\nexcept AttributeError:\n pass\nresult = ai.tensorToFlatList(x)") == [1.0, 2.0]


@pytest.mark.parametrize("dtype,values,expected", [
    ("FLOAT", "[1.0, 2.5, -3.0, 0.1]", [1.0, 2.5, -3.0, 0.10000000149011612]),
    ("DOUBLE", "[1.0, 2.5, -3.0, 0.1]", [1.0, 2.5, -3.0, 0.1]),
    ("float", "[1.0, 2.0, 3.0, 4.0]", [1.0, 2.0, 3.0, 4.0]),
    ("INT8", "[1, -2, 127, -128]", [1, -2, 127, -128]),
    ("INT16", "[1, -2, 32767, -32768]", [1, -2, 32767, -32768]),
    ("INT32", "[1, -2, 2**31-1, -2**31]", [1, -2, 2**31 - 1, -2**31]),
    ("INT64", "[1, -2, 2**63-1, -2**63]", [1, -2, 2**63 - 1, -2**63]),
    ("UINT8", "[0, 1, 200, 255]", [0, 1, 200, 255]),
    ("UINT16", "[0, 1, 40000, 65535]", [0, 1, 40000, 65535]),
    ("BOOL", "[0, 1, True, False]", [0, 1, 1, 0]),
    ("INT32", "[1.0, 2.0, 3.0, -4.0]", [1, 2, 3, -4]),  # integral floats, as the original accepts
])
def test_values_roundtrip(ai, dtype, values, expected):
    _, c = ai
    got = ok(c, R + f"t = ai.createTensorFromValues({dtype!r}, [2, 2], {values})\n"
                    "result = (ai.tensorToFlatList(t), ai.tensorGetDims(t), ai.tensorGetDataType(t), str(t))")
    assert got[0] == expected
    assert all(type(v) is type(expected[0]) for v in got[0])
    assert got[1] == (2, 2)
    assert got[2] == dtype.upper()
    assert got[3] == repr(expected)


def test_scalar_and_numpy_float64(ai):
    _, c = ai
    assert ok(c, R + "t = ai.createTensorFromValues('DOUBLE', [], [np.float64(2.5)])\n"
                     "result = (ai.tensorGetDims(t), ai.tensorToFlatList(t))") == ((), [2.5])


VALUES_ERRORS = [
    ("'FLOAT', [1]", "Wrong number of arguments given to createTensorFromValues"),
    ("'FLOAT', [1], [1.0], 1", "Wrong number of arguments given to createTensorFromValues"),
    ("1, 3, 4", "type argument must be a string"),
    ("'FLOAT', 3, 4", "dims argument must be iterable"),
    ("'FLOAT', [1.0], 4", "dims arguments must be long"),
    ("'FLOAT', [2**63], [1.0]", "dims arguments must be long"),
    ("'FLOAT', [-1], [1.0]", "dims arguments must be positive"),
    ("'FLOAT', [0], []", "dims arguments must be positive"),
    ("'FLOAT', [2**40, 2**40], []", "Failed creating tensor, the tensor is too large"),
    # more than proto-max-bulk-len (512 MiB): refused before 2 GiB are allocated
    ("'UINT8', [2**31], []", "Failed creating tensor, the tensor is too large"),
    ("'NOPE', [1], 4", "Failed creating tensor, make sure you put the right data type."),
    ("'UINT32', [1], [1]", "Failed creating tensor, make sure you put the right data type."),
    ("'INT08', [1], [1]", "Failed creating tensor, make sure you put the right data type."),
    ("'STRING', [1], ['a']", "STRING tensors are not supported by the redisAI Python API"),
    ("'FLOAT', [1], 4", "values argument must be iterable"),
    ("'FLOAT', [2], [1.0, 2]", "values arguments must be double"),
    ("'DOUBLE', [1], ['x']", "values arguments must be double"),
    ("'FLOAT', [3], [1.0, 2.0]", "number of values does not match tensor shape"),
    ("'FLOAT', [1], [1.0, 2.0]", "number of values does not match tensor shape"),
    # an endless iterator (0.0 for ever): read no further than one value too many
    ("'FLOAT', [2], iter(float, 1)", "number of values does not match tensor shape"),
    ("'INT32', [1], [1.5]", "values arguments must be integers for a tensor of type INT32"),
    ("'INT8', [1], ['1']", "values arguments must be integers for a tensor of type INT8"),
    ("'INT8', [1], [128]", "value 128 is out of range for a tensor of type INT8"),
    ("'UINT8', [1], [-1]", "value -1 is out of range for a tensor of type UINT8"),
    ("'BOOL', [1], [2]", "value 2 is out of range for a tensor of type BOOL"),
]


@pytest.mark.parametrize("args,msg", VALUES_ERRORS)
def test_values_errors(ai, args, msg):
    _, c = ai
    assert gears_error(c, R + f"ai.createTensorFromValues({args})") == msg


@pytest.mark.parametrize("dtype,blob,expected", [
    ("INT8", "bytearray([5, 6, 7, 8])", [5, 6, 7, 8]),
    ("UINT16", "bytes([5, 0, 6, 0, 7, 0, 8, 0])", [5, 6, 7, 8]),
    ("FLOAT", "np.array([[1, 2], [3, 4]], dtype=np.float32)", [1.0, 2.0, 3.0, 4.0]),
    ("INT64", "memoryview(np.arange(4, dtype=np.int64))", [0, 1, 2, 3]),
    # non-contiguous (a transposed view): gathered in row-major order first
    ("DOUBLE", "np.array([[1, 2], [3, 4]], dtype=np.float64).T", [1.0, 3.0, 2.0, 4.0]),
    ("BOOL", "bytes([1, 0, 0, 1])", [1, 0, 0, 1]),
])
def test_blob_roundtrip(ai, dtype, blob, expected):
    _, c = ai
    got = ok(c, R + f"b = {blob}\nt = ai.createTensorFromBlob({dtype!r}, [2, 2], b)\n"
                    "result = (ai.tensorToFlatList(t), bytes(ai.tensorGetDataAsBlob(t)), "
                    "type(ai.tensorGetDataAsBlob(t)).__name__)")
    assert got[0] == expected
    assert got[2] == "bytearray"
    assert len(got[1]) == 4 * {"INT8": 1, "UINT16": 2, "FLOAT": 4, "INT64": 8, "DOUBLE": 8, "BOOL": 1}[dtype]


BLOB_ERRORS = [
    ("'FLOAT', [1]", "Wrong number of arguments given to createTensorFromBlob"),
    ("1, [1], b''", "type argument must be a string"),
    ("'UINT8', [2**31], b''", "Failed creating tensor, the tensor is too large"),
    ("'FLOAT', 3, 'abcd'", "blob argument must be bytes, byte array or a buffer"),  # blob before dims
    ("'FLOAT', 3, b'abcd'", "dims argument must be iterable"),
    ("'FLOAT', ['1'], b'abcd'", "dims arguments must be long"),
    ("'FLOT', [1], b'abcd'", "Failed creating tensor, make sure you put the right data type."),
    ("'FLOAT', [2], b'abcd'", "ERR data length does not match tensor shape and type"),
    ("'INT8', [2], b'abc'", "ERR data length does not match tensor shape and type"),
    ("'BOOL', [2], bytes([1, 2])", "ERR BOOL tensor elements must be 0 or 1"),
    ("'STRING', [1], b'a\\0'", "STRING tensors are not supported by the redisAI Python API"),
]


@pytest.mark.parametrize("args,msg", BLOB_ERRORS)
def test_blob_errors(ai, args, msg):
    _, c = ai
    assert gears_error(c, R + f"ai.createTensorFromBlob({args})") == msg


@pytest.mark.parametrize("fn", ["tensorToFlatList", "tensorGetDataAsBlob", "tensorGetDims",
                                "tensorGetDataType"])
def test_accessor_errors(ai, fn):
    _, c = ai
    assert gears_error(c, R + f"ai.{fn}()") == f"Wrong number of arguments given to {fn}"
    assert gears_error(c, R + f"t = ai.createTensorFromValues('FLOAT', [1], [1.0])\nai.{fn}(t, t)") == \
        f"Wrong number of arguments given to {fn}"
    assert gears_error(c, R + f"ai.{fn}([1.0])") == "Given argument is not of type PyTensor"
    assert gears_error(c, R + f"ai.{fn}(ai.PyTensor())") == "PyTensor is invalid"
    # subclasses pass the type check; made from Python they are invalid too
    assert gears_error(c, R + f"class T(ai.PyTensor): pass\nai.{fn}(T())") == "PyTensor is invalid"


def test_invalid_tensor_str_and_keyspace(ai):
    _, c = ai
    assert gears_error(c, R + "str(ai.PyTensor())") == "PyTensor is invalid"
    assert gears_error(c, R + "ai.setTensorInKey('k', ai.PyTensor())") == "PyTensor is invalid"
    assert ok(c, R + "import pickle\nt = ai.createTensorFromValues('FLOAT', [1], [1.0])\n"
                     "try:\n pickle.dumps(t)\nexcept TypeError:\n result = 'no pickle'") == "no pickle"
    assert ok(c, R + "t = ai.createTensorFromValues('FLOAT', [1], [1.0])\nresult = hasattr(t, '__dict__')") is False


def test_numpy_shares_data_without_copy(ai):
    srv, c = ai
    got = ok(c, R + "b = np.arange(12, dtype=np.float32).reshape(3, 4)\n"
                    "t = ai.createTensorFromBlob('FLOAT', [3, 4], b)\n"
                    "a1 = np.asarray(t); a2 = np.asarray(t)\n"
                    "m = ai.tensorGetDataAsMemoryview(t)\n"
                    "del t\n"  # the arrays and the view keep the tensor alive
                    "result = (a1.shape, str(a1.dtype), a1.flags.writeable, "
                    "a1.__array_interface__['data'][0] == a2.__array_interface__['data'][0], "
                    "a1.tolist(), m.readonly, m.shape, m.format, m.tolist() == a1.tolist(), "
                    "a1.__array_interface__['data'][0] != b.__array_interface__['data'][0])")
    assert got == ((3, 4), "float32", False, True, np_list(), True, (3, 4), "f", True, True)
    assert ok(c, R + "t = ai.createTensorFromValues('UINT16', [2], [1, 65535])\n"
                     "a = np.asarray(t)\n"
                     "try:\n a[0] = 5\nexcept ValueError:\n result = (str(a.dtype), a.tolist())") == \
        ("uint16", [1, 65535])
    assert srv.alive()


def np_list():
    return [[float(4 * r + k) for k in range(4)] for r in range(3)]
