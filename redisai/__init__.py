"""export methods provide by redisAI."""
# (The docstring is the original module's, typo included: spec §2.)
#
# The Python API that flows running inside redis-server import as `redisAI`
# (the top-level shim redisAI.py re-exports this package).  Importing always
# succeeds; the engine is bound on the first call (see _api._bind).
from ._api import (PyTensor, createTensorFromBlob, createTensorFromValues, getTensorFromKey,
                   mgetTensorsFromKeyspace, msetTensorsInKeyspace, setTensorInKey,
                   tensorGetDataAsBlob, tensorGetDataAsMemoryview, tensorGetDataType,
                   tensorGetDims, tensorToFlatList)
from ._runners import (PyGraphRunner, PyTorchScriptRunner, createModelRunner, createScriptRunner,
                       modelRunnerAddInput, modelRunnerAddOutput, modelRunnerRun, modelRunnerRunAsync,
                       scriptRunnerAddInput, scriptRunnerAddInputList, scriptRunnerAddOutput,
                       scriptRunnerRun, scriptRunnerRunAsync)
from ._dag import PyDAGRunner, createDAGRunner

__all__ = ["PyTensor", "createTensorFromValues", "createTensorFromBlob", "setTensorInKey",
           "msetTensorsInKeyspace", "getTensorFromKey", "mgetTensorsFromKeyspace",
           "tensorToFlatList", "tensorGetDataAsBlob", "tensorGetDims", "tensorGetDataType",
           "tensorGetDataAsMemoryview", "PyGraphRunner", "PyTorchScriptRunner", "createModelRunner",
           "modelRunnerAddInput", "modelRunnerAddOutput", "modelRunnerRun", "modelRunnerRunAsync",
           "createScriptRunner", "scriptRunnerAddInput", "scriptRunnerAddInputList",
           "scriptRunnerAddOutput", "scriptRunnerRun", "scriptRunnerRunAsync", "PyDAGRunner",
           "createDAGRunner"]
