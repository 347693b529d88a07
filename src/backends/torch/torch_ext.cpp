/* torch_ext.cpp -- the TorchScript extensions of RedisAI scripts:
 *
 *   redis.execute(cmd: str, *args) -> Any
 *       runs a Redis command; the reply is a str (status and bulk replies),
 *       an int, a List[Any] (arrays) or None (nil); an error reply raises.
 *       Arguments may be str, int, float or List[str] (a list is spread, so
 *       redis.execute("SET", [key, value]) works as well).  Note TorchScript
 *       folds `x is None` to False for an Any: scripts test a nil reply with
 *       isinstance(x, NoneType).
 *   redis.asList(value: Any) -> List[Any]
 *       a list reply as a list, to iterate over it.
 *   redisAI.model_execute(key: str, inputs: List[Tensor], num_outputs: int) -> List[Tensor]
 *       runs the model stored at `key` on this thread and returns its
 *       outputs (1 to 1024 of them).
 *
 * Names.  The operators are registered as redis::execute, redis::asList and
 * redisAI::model_execute (JIT operators: execute takes varargs, which the
 * c10 dispatcher cannot).  torch::jit::compile resolves only the name
 * `torch`; scripts are compiled here with a resolver that also resolves the
 * bare names `redis` and `redisAI` to those operator namespaces, the way a
 * script written for RedisAI 1.2 calls them.  Nothing is prepended to the
 * source, so line numbers in compile errors stay the user's.  The operators
 * are CONSERVATIVE for alias analysis: the JIT then treats them as having side
 * effects and never drops a call whose result is unused.
 *
 * Errors.  The engine does the Redis and model work (script_ext.c); a failure
 * raises inside the script, which the interpreter reports wrapped in a
 * traceback.  The operator also records its own text in a thread-local, and
 * script_run reports that text instead (e.g. the Redis error reply as is).
 *
 * Memory.  Model inputs are handed to the engine borrowing the torch
 * tensors' storage (to_engine copies only non-contiguous tensors); model
 * outputs become torch tensors that keep the engine tensor alive (no copy). */
#include <torch/csrc/jit/frontend/resolver.h>
#include <torch/csrc/jit/frontend/sugared_value.h>
#include <torch/csrc/jit/runtime/custom_operator.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "torch_backend.h"

namespace rai_torch {

namespace {

using torch::jit::Stack;

thread_local bool tl_failed = false;
thread_local std::string tl_error;

/* Records the text for script_run and raises it inside the script. */
[[noreturn]] void fail(const std::string &msg) {
    tl_failed = true;
    tl_error = msg;
    throw std::runtime_error(msg);
}

/* Runs an operator body; any failure is recorded before it propagates. */
template <typename F> void op_guard(F &&body) {
    try {
        body();
    } catch (const c10::Error &e) {
        if (!tl_failed) fail(e.what_without_backtrace());
        throw;
    } catch (const std::exception &e) {
        if (!tl_failed) fail(e.what());
        throw;
    }
}

struct RedisAIResolver : torch::jit::Resolver {
    std::shared_ptr<torch::jit::SugaredValue> resolveValue(const std::string &name, torch::jit::GraphFunction &,
                                                           const torch::jit::SourceRange &) override {
        if (name == "torch") return std::make_shared<torch::jit::BuiltinModule>("aten");
        if (name == "redis") return std::make_shared<torch::jit::BuiltinModule>("redis");
        if (name == "redisAI") return std::make_shared<torch::jit::BuiltinModule>("redisAI");
        return nullptr;
    }
    c10::TypePtr resolveType(const std::string &, const torch::jit::SourceRange &) override { return nullptr; }
};

/* ---- redis.execute ---- */

/* The shortest decimal that reads back as the same double (as Python's str). */
std::string format_double(double v) {
    char buf[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, nullptr) == v) break;
    }
    return buf;
}

void append_arg(const c10::IValue &v, size_t pos, std::vector<std::string> &argv) {
    if (v.isString()) {
        argv.push_back(v.toStringRef());
    } else if (v.isInt()) {
        argv.push_back(std::to_string(v.toInt()));
    } else if (v.isDouble()) {
        argv.push_back(format_double(v.toDouble()));
    } else if (v.isList()) {
        for (const c10::IValue &e : v.toListRef()) {
            if (!e.isString())
                fail("redis.execute: argument " + std::to_string(pos) + " is a list with a " + e.tagKind() +
                     " element; a list argument must be a List[str]");
            argv.push_back(e.toStringRef());
        }
    } else {
        fail("redis.execute: argument " + std::to_string(pos) + " is a " + v.tagKind() +
             "; expected str, int, float or List[str]");
    }
}

c10::IValue to_ivalue(const RAI_CommandReply *r) {
    switch (r->type) {
    case RAI_REPLY_STRING: return c10::IValue(std::string(r->str, r->len));
    case RAI_REPLY_INTEGER: return c10::IValue(static_cast<int64_t>(r->integer));
    case RAI_REPLY_ARRAY: {
        c10::impl::GenericList list(c10::AnyType::get());
        list.reserve(r->len);
        for (size_t i = 0; i < r->len; i++) list.push_back(to_ivalue(&r->elements[i]));
        return c10::IValue(std::move(list));
    }
    default: return c10::IValue(); /* nil: None */
    }
}

torch::jit::Operation make_execute(const torch::jit::Node *node) {
    /* Without a graph node (a call through torch.ops from Python) the number
     * of varargs is unknown. */
    if (!node) return [](Stack &) { fail("redis.execute can only be called from a script"); };
    size_t n = node->inputs().size(); /* the command name and the varargs */
    return [n](Stack &stack) {
        op_guard([&] {
            std::vector<std::string> argv;
            auto in = torch::jit::last(stack, n);
            argv.push_back(in[0].toStringRef());
            for (size_t i = 1; i < n; i++) append_arg(in[i], i, argv);
            torch::jit::drop(stack, n);
            std::vector<const char *> ptrs;
            std::vector<size_t> lens;
            for (const auto &a : argv) {
                ptrs.push_back(a.data());
                lens.push_back(a.size());
            }
            if (!g_engine->execute) fail("redis.execute is not available in this engine");
            char err[RAI_ERRLEN] = "";
            RAI_CommandReply *reply = g_engine->execute(ptrs.data(), lens.data(), argv.size(), err);
            if (!reply) fail(err[0] ? err : "ERR redis.execute failed");
            c10::IValue value;
            try {
                value = to_ivalue(reply); /* copies the reply's strings */
            } catch (...) {
                g_engine->reply_free(reply);
                throw;
            }
            g_engine->reply_free(reply);
            stack.emplace_back(std::move(value));
        });
    };
}

/* ---- redis.asList ---- */

torch::jit::Operation make_as_list(const torch::jit::Node *) {
    return [](Stack &stack) {
        op_guard([&] {
            c10::IValue v = torch::jit::pop(stack);
            if (!v.isList())
                fail(std::string("redis.asList: expected a list reply, got ") + (v.isNone() ? "None" : v.tagKind()));
            stack.emplace_back(v.toList());
        });
    };
}

/* ---- redisAI.model_execute ---- */

const int64_t kMaxModelOutputs = 1024;

/* A torch tensor over an engine tensor's data (no copy); the engine tensor is
 * freed with the torch storage. */
at::Tensor adopt(RAI_Tensor *t) {
    at::ScalarType st;
    try {
        st = to_torch_dtype(t->dtype);
    } catch (...) {
        g_engine->tensor_free(t);
        throw;
    }
    std::vector<int64_t> sizes(t->dims, t->dims + t->ndims);
    auto opts = at::TensorOptions().dtype(st).device(at::kCPU);
    int64_t numel = 1;
    for (int64_t d : sizes) numel *= d;
    if (numel == 0 || !t->data) {
        g_engine->tensor_free(t);
        return at::empty(sizes, opts);
    }
    return torch::from_blob(t->data, sizes, [t](void *) { g_engine->tensor_free(t); }, opts);
}

void model_execute(Stack &stack) {
    op_guard([&] {
        int64_t num_outputs = torch::jit::pop(stack).toInt();
        c10::List<at::Tensor> inputs = torch::jit::pop(stack).toTensorList();
        std::string key = torch::jit::pop(stack).toStringRef();
        if (!g_engine->model_execute) fail("redisAI.model_execute is not available in this engine");
        if (num_outputs < 1 || num_outputs > kMaxModelOutputs)
            fail("redisAI.model_execute: num_outputs must be between 1 and " + std::to_string(kMaxModelOutputs));
        std::vector<RAI_Tensor *> in;
        std::vector<RAI_Tensor *> out(static_cast<size_t>(num_outputs), nullptr);
        char err[RAI_ERRLEN] = "";
        int rc;
        try {
            for (size_t i = 0; i < inputs.size(); i++) in.push_back(to_engine(inputs.get(i), {}));
            rc = g_engine->model_execute(key.data(), key.size(), in.data(), in.size(), out.data(), out.size(),
                                         err);
        } catch (...) {
            for (RAI_Tensor *t : in) g_engine->tensor_free(t);
            throw;
        }
        for (RAI_Tensor *t : in) g_engine->tensor_free(t);
        if (rc != 0) fail(err[0] ? err : "ERR redisAI.model_execute failed");
        c10::List<at::Tensor> result;
        size_t i = 0;
        try {
            for (; i < out.size(); i++) result.push_back(adopt(out[i]));
        } catch (...) {
            for (size_t j = i + 1; j < out.size(); j++) g_engine->tensor_free(out[j]);
            throw;
        }
        stack.emplace_back(std::move(result));
    });
}

torch::jit::Operation make_model_execute(const torch::jit::Node *) { return model_execute; }

} // namespace

/* Registered once the backend is initialized, not when it is loaded: a
 * library that fails to initialize is unloaded, and the JIT registry would
 * keep pointers into it. */
void ext_register() {
    static bool done = false;
    if (done) return;
    const auto alias = c10::AliasAnalysisKind::CONSERVATIVE;
    torch::jit::RegisterOperators({
        torch::jit::Operator("redis::execute(str cmd, ...) -> Any", make_execute, alias),
        torch::jit::Operator("redis::asList(Any value) -> Any[]", make_as_list, alias),
        torch::jit::Operator("redisAI::model_execute(str model_key, Tensor[] inputs, int num_outputs) -> Tensor[]",
                             make_model_execute, alias),
    });
    done = true;
}

std::shared_ptr<torch::jit::CompilationUnit> compile_script(const std::string &source) {
    auto cu = std::make_shared<torch::jit::CompilationUnit>();
    cu->define(std::nullopt, source, std::make_shared<RedisAIResolver>(), nullptr);
    return cu;
}

void ext_error_reset() {
    tl_failed = false;
    tl_error.clear();
}

bool ext_error_take(std::string &msg) {
    if (!tl_failed) return false;
    msg = tl_error;
    ext_error_reset();
    return true;
}

} // namespace rai_torch
