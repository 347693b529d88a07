# The README's walk-through flow: RG.TRIGGER predict <in key> <out key> runs
# the model demo:linear on the tensor in <in key>, stores the result in
# <out key> and replies with its values.  Send it with
#   redis-cli -p 6380 -x RG.PYEXECUTE < examples/flow.py
import redisAI


async def predict(record):                 # record = ['predict', in_key, out_key]
    _, in_key, out_key = record
    runner = redisAI.createModelRunner('demo:linear')
    redisAI.modelRunnerAddInput(runner, 'x', redisAI.getTensorFromKey(in_key))
    redisAI.modelRunnerAddOutput(runner, 'y')
    y = (await redisAI.modelRunnerRunAsync(runner))[0]   # runs on the engine's CPU queue
    redisAI.setTensorInKey(out_key, y)                   # replicated, in the AOF, notified
    return redisAI.tensorToFlatList(y)


GB('CommandReader').map(predict).register(trigger='predict')
