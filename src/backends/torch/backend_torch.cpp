/* backend_torch.cpp -- the TORCH backend: TorchScript models and scripts on
 * libtorch (the pinned torch wheel), behind the C contract of
 * src/engine/backend_api.h.
 *
 * Exceptions: every extern "C" entry runs its body inside guarded(), which
 * catches c10::Error (reported without its C++ backtrace), std::exception and
 * anything else, and writes the text to the caller's `err` buffer.  No
 * exception crosses the C boundary (an escaped one aborts redis-server).
 *
 * Threads: runs come from engine worker threads, several at once, also on the
 * same model.  A loaded torch::jit::Module / CompilationUnit is only read by a
 * run (forward on a module is safe to call concurrently); each run holds an
 * InferenceMode guard (no autograd graph, no version counters).  Intra-op
 * parallelism: this wheel uses OpenMP, where at::set_num_threads applies to
 * the calling thread (omp_set_num_threads sets the caller's ICV), so it is set
 * per run on the worker thread, and only when it differs from the thread's
 * current value.  Inter-op parallelism is process-wide and libtorch allows
 * setting it once: it is set in init only, never per model.
 *
 * Memory: inputs are wrapped with torch::from_blob over the engine tensor's
 * data (no copy).  Outputs are made contiguous on the CPU and handed to the
 * engine with tensor_wrap, borrowing the at::Tensor's storage (owner = a heap
 * at::Tensor, release deletes it).  Copies happen only where noted below.
 *
 * Scripts compile with RedisAI's extensions (redis.execute, redis.asList,
 * redisAI.model_execute): see torch_ext.cpp. */
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/script.h>
#include <torch/version.h>

#include <pthread.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include "torch_backend.h"

/* Helpers, shared with torch_ext.cpp through torch_backend.h. */
namespace rai_torch {

const RAI_EngineOps *g_engine = nullptr;
int g_default_intra = 0; /* threads per run when a model asks for 0 */

void set_err(char *err, const std::string &msg) {
    if (!err) return;
    std::string m = msg;
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    snprintf(err, RAI_ERRLEN, "%s", m.c_str());
}

/* Runs `body`; on any exception writes its text to err and returns false. */
template <typename F> bool guarded(char *err, F &&body) {
    try {
        body();
        return true;
    } catch (const c10::Error &e) {
        set_err(err, e.what_without_backtrace());
    } catch (const std::exception &e) {
        set_err(err, e.what());
    } catch (...) {
        set_err(err, "Unknown error in the TORCH backend");
    }
    return false;
}

/* TorchScript's compiler parses and lowers source code recursively, with no
 * depth limit of its own: a script with 20000 nested brackets (or 2 million
 * unary minuses, or a chain of 2 million additions) overflowed the stack and
 * crashed the server.  So sources are refused past a bracket depth no real
 * script reaches, and compiling runs on a thread whose stack grows with the
 * source: every level of recursion takes at least one character, and less
 * than kStackPerSourceByte of stack (about 2.6 KB measured for unary
 * minuses).  The stack is address space, committed only as far as it is
 * used; when the system refuses one that large, the script is refused.
 * Model archives (torch::jit::load) hold weights as well as code, so their
 * size says nothing of the code's: they get kModelStackBytes, or less where
 * the system refuses that much. */
constexpr int kMaxBracketDepth = 1000;
constexpr size_t kStackPerSourceByte = 8192;
constexpr size_t kMinCompileStack = 64UL << 20;
constexpr size_t kModelStackBytes = 1UL << 30;

void check_nesting(const std::string &src) {
    int depth = 0;
    char quote = 0;
    for (size_t i = 0; i < src.size(); i++) {
        char c = src[i];
        if (quote) { /* inside a string literal: brackets do not count */
            if (c == '\\') i++;
            else if (c == quote) quote = 0;
        } else if (c == '#') {
            while (i < src.size() && src[i] != '\n') i++;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == '(' || c == '[' || c == '{') {
            if (++depth > kMaxBracketDepth)
                throw BackendError("script source nests brackets more than " + std::to_string(kMaxBracketDepth) +
                                   " deep");
        } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
}

/* Runs `body` on a thread with a `stack_bytes` stack and waits for it;
 * `body` must not throw (pass it through guarded()).  Returns false, without
 * running it, when such a thread cannot be made. */
template <typename F> bool on_big_stack(size_t stack_bytes, F &&body) {
    struct Call {
        std::remove_reference_t<F> *body;
        static void *run(void *p) {
            (*static_cast<Call *>(p)->body)();
            return nullptr;
        }
    } call{&body};
    pthread_attr_t attr;
    pthread_t tid;
    if (pthread_attr_init(&attr) != 0) return false;
    bool started = pthread_attr_setstacksize(&attr, stack_bytes) == 0 &&
                   pthread_create(&tid, &attr, &Call::run, &call) == 0;
    pthread_attr_destroy(&attr);
    if (started) pthread_join(tid, nullptr);
    return started;
}

void check_device(const char *device) {
    /* The engine validated the syntax; this build runs on the CPU only. */
    if (!device || strncasecmp(device, "CPU", 3) != 0 || (device[3] != '\0' && device[3] != ':'))
        throw BackendError("ERR unsupported device");
}

/* Sets this worker thread's intra-op thread count for the run. */
void apply_intra_op(long long intra) {
    int want = intra > 0 ? (int)intra : g_default_intra;
    if (want > 0 && at::get_num_threads() != want) at::set_num_threads(want);
}

at::ScalarType to_torch_dtype(RAI_DTypeId dt) {
    switch (dt) {
    case RAI_DT_FLOAT: return at::kFloat;
    case RAI_DT_DOUBLE: return at::kDouble;
    case RAI_DT_INT8: return at::kChar;
    case RAI_DT_INT16: return at::kShort;
    case RAI_DT_INT32: return at::kInt;
    case RAI_DT_INT64: return at::kLong;
    case RAI_DT_UINT8: return at::kByte;
    case RAI_DT_UINT16: return at::kUInt16; /* a storage dtype in torch 2.x; few kernels */
    case RAI_DT_BOOL: return at::kBool;
    case RAI_DT_STRING: throw BackendError("Torch does not support STRING tensors");
    default: throw BackendError("Unsupported tensor type for the TORCH backend");
    }
}

/* Engine dtype for a torch dtype, RAI_DT_INVALID when the engine has none. */
RAI_DTypeId from_torch_dtype(at::ScalarType st) {
    switch (st) {
    case at::kFloat: return RAI_DT_FLOAT;
    case at::kDouble: return RAI_DT_DOUBLE;
    case at::kChar: return RAI_DT_INT8;
    case at::kShort: return RAI_DT_INT16;
    case at::kInt: return RAI_DT_INT32;
    case at::kLong: return RAI_DT_INT64;
    case at::kByte: return RAI_DT_UINT8;
    case at::kUInt16: return RAI_DT_UINT16;
    case at::kBool: return RAI_DT_BOOL;
    default: return RAI_DT_INVALID;
    }
}

/* Wraps an engine tensor without copying.  The data may be unaligned (large
 * TENSORSET blobs stay in the Redis argument string): x86-64 kernels use
 * unaligned loads, so it is wrapped as is there; elsewhere a misaligned buffer
 * is copied (the only input copy).  Note the wrapped tensor is writable to
 * torch: a model that modifies an input in place would modify the stored
 * tensor, as in RedisAI. */
at::Tensor to_torch(const RAI_Tensor *t) {
    if (!t) throw BackendError("Missing input tensor");
    at::ScalarType st = to_torch_dtype(t->dtype);
    std::vector<int64_t> sizes(t->dims, t->dims + t->ndims);
    auto opts = at::TensorOptions().dtype(st).device(at::kCPU);
#if !defined(__x86_64__) && !defined(__i386__)
    if (((uintptr_t)t->data) % at::elementSize(st) != 0)
        return torch::from_blob(t->data, sizes, opts).clone(); /* misaligned: copy */
#endif
    return torch::from_blob(t->data, sizes, opts);
}

void release_tensor(void *owner) { delete static_cast<at::Tensor *>(owner); }

/* Hands one output to the engine, borrowing its memory. `inputs` are the
 * storages of the run's wrapped inputs: an output that shares one (the model
 * returned an input or a view of it) is copied, since that memory belongs to
 * an engine tensor the output would otherwise outlive. */
RAI_Tensor *to_engine(at::Tensor t, const std::unordered_set<const void *> &inputs) {
    if (!t.defined()) throw BackendError("Torch output is an undefined tensor");
    if (!t.device().is_cpu()) t = t.to(at::kCPU); /* copy: device to host */
    RAI_DTypeId dt = from_torch_dtype(t.scalar_type());
    if (dt == RAI_DT_INVALID) {
        /* Copy: the engine has no such dtype; convert to the nearest it has. */
        switch (t.scalar_type()) {
        case at::kHalf:
        case at::kBFloat16: t = t.to(at::kFloat); dt = RAI_DT_FLOAT; break;
        case at::kUInt32: t = t.to(at::kLong); dt = RAI_DT_INT64; break;
        default:
            throw BackendError(std::string("Unsupported output tensor type: ") +
                               c10::toString(t.scalar_type()));
        }
    }
    t = t.contiguous(); /* copy only when the output is not contiguous */
    if (t.has_storage() && inputs.count(t.storage().data())) t = t.clone(); /* copy: aliases an input */
    if (t.numel() == 0) /* the engine's tensors have no zero dims */
        throw BackendError("Torch output is empty (a zero dimension)");
    std::vector<long long> dims(t.sizes().begin(), t.sizes().end());
    at::Tensor *owner = new at::Tensor(t);
    RAI_Tensor *out = g_engine->tensor_wrap(dt, dims.data(), (int)dims.size(), (char *)owner->data_ptr(),
                                            owner->nbytes(), owner, release_tensor);
    if (!out) {
        delete owner;
        throw BackendError("Could not create the output tensor (shape too large)");
    }
    return out;
}

void flatten(const c10::IValue &v, std::vector<at::Tensor> &out) {
    if (v.isTensor()) {
        out.push_back(v.toTensor());
    } else if (v.isTuple()) {
        for (const auto &e : v.toTupleRef().elements()) flatten(e, out);
    } else if (v.isList()) {
        for (const auto &e : v.toListRef()) flatten(e, out);
    } else {
        throw BackendError(std::string("Torch output must be a tensor, or a tuple or list of tensors, not ") +
                           v.tagKind());
    }
}

/* Converts the result; frees what it made if a later output fails. */
void collect_outputs(const c10::IValue &result, const std::unordered_set<const void *> &inputs,
                     RAI_Tensor **outputs, size_t noutputs, size_t *nwritten, bool exact) {
    std::vector<at::Tensor> ts;
    if (!result.isNone()) flatten(result, ts); /* None: a function run for its side effects */
    if (exact ? ts.size() != noutputs : ts.size() > noutputs) {
        throw BackendError("Torch returned " + std::to_string(ts.size()) + " output" +
                           (ts.size() == 1 ? "" : "s") + " but " + (exact ? "" : "at most ") +
                           std::to_string(noutputs) + " were requested");
    }
    size_t i = 0;
    try {
        for (; i < ts.size(); i++) outputs[i] = to_engine(ts[i], inputs);
    } catch (...) {
        for (size_t j = 0; j < i; j++) {
            g_engine->tensor_free(outputs[j]);
            outputs[j] = nullptr;
        }
        throw;
    }
    if (nwritten) *nwritten = ts.size();
}

} // namespace rai_torch

namespace {

using namespace rai_torch;

/* ---- models ---- */

struct TorchModel {
    torch::jit::Module module;
    std::vector<std::string> input_names;
    std::vector<const char *> input_ptrs;
    std::vector<const char *> output_ptrs;
    RAI_ModelSignature sig{};
    long long intra = 0;
};

const char *const kEmpty = "";

void *model_create(const char *device, const RAI_ModelOpts *opts, size_t ninputs, const char *const *inputs,
                   size_t noutputs, const char *const *outputs, const char *blob, size_t len, char *err) {
    (void)ninputs, (void)inputs, (void)noutputs, (void)outputs; /* TF only */
    TorchModel *m = nullptr;
    bool ok = false;
    auto load = [&] { ok = guarded(err, [&] {
        check_device(device);
        if (!blob || len == 0) throw BackendError("Empty model blob");
        std::istringstream in(std::string(blob, len));
        auto model = std::make_unique<TorchModel>();
        model->module = torch::jit::load(in, at::kCPU);
        model->module.eval();
        auto forward = model->module.find_method("forward");
        if (!forward) throw BackendError("The TorchScript model has no forward method");
        const c10::FunctionSchema &schema = forward->function().getSchema();
        const auto &args = schema.arguments();
        for (size_t i = 1; i < args.size(); i++) model->input_names.push_back(args[i].name()); /* skip self */
        size_t nout = 1;
        if (schema.returns().size() == 1) {
            if (auto tup = schema.returns()[0].type()->cast<c10::TupleType>()) nout = tup->elements().size();
        } else {
            nout = schema.returns().size();
        }
        for (const auto &n : model->input_names) model->input_ptrs.push_back(n.c_str());
        model->output_ptrs.assign(nout, kEmpty);
        model->sig.ninputs = model->input_ptrs.size();
        model->sig.inputs = model->input_ptrs.data();
        model->sig.noutputs = nout;
        model->sig.outputs = model->output_ptrs.data();
        model->intra = opts ? opts->backends_intra_op_parallelism : 0;
        m = model.release();
    }); };
    bool ran = false;
    for (size_t stack = kModelStackBytes; !ran && stack >= kMinCompileStack; stack /= 4) ran = on_big_stack(stack, load);
    if (!ran) set_err(err, "could not start a thread to load the model");
    return ok ? m : nullptr;
}

void model_free(void *model) {
    guarded(nullptr, [&] { delete static_cast<TorchModel *>(model); });
}

const RAI_ModelSignature *model_signature(void *model) { return &static_cast<TorchModel *>(model)->sig; }

int model_run(void *model, RAI_Tensor *const *inputs, size_t ninputs, RAI_Tensor **outputs, size_t noutputs,
              char *err) {
    TorchModel *m = static_cast<TorchModel *>(model);
    bool ok = guarded(err, [&] {
        apply_intra_op(m->intra);
        c10::InferenceMode guard;
        std::vector<c10::IValue> args;
        std::unordered_set<const void *> in_storages;
        args.reserve(ninputs);
        for (size_t i = 0; i < ninputs; i++) {
            at::Tensor t = to_torch(inputs[i]);
            in_storages.insert(t.storage().data());
            args.emplace_back(std::move(t));
        }
        c10::IValue result = m->module.forward(std::move(args));
        collect_outputs(result, in_storages, outputs, noutputs, nullptr, true);
    });
    return ok ? 0 : -1;
}

/* ---- scripts ---- */

struct TorchScript {
    std::shared_ptr<torch::jit::CompilationUnit> cu;
};

bool is_new_style(const c10::FunctionSchema &schema) {
    const auto &a = schema.arguments();
    return a.size() == 3 && *a[0].type() == *c10::ListType::ofTensors() &&
           *a[1].type() == *c10::ListType::ofStrings() && *a[2].type() == *c10::ListType::ofStrings();
}

void *script_create(const char *device, const char *source, const char *const *entry_points,
                    size_t n_entry_points, char *err) {
    TorchScript *s = nullptr;
    bool ok = false;
    size_t len = source ? strlen(source) : 0;
    size_t stack = len > kMinCompileStack / kStackPerSourceByte ? len * kStackPerSourceByte : kMinCompileStack;
    bool ran = on_big_stack(stack, [&] { ok = guarded(err, [&] {
        check_device(device);
        auto script = std::make_unique<TorchScript>();
        std::string src = source ? source : "";
        check_nesting(src);
        script->cu = compile_script(src);
        char buf[RAI_ERRLEN];
        for (size_t i = 0; i < n_entry_points; i++) {
            const char *name = entry_points[i];
            torch::jit::Function *fn = script->cu->find_function(name);
            if (!fn) {
                snprintf(buf, sizeof buf, "Function %s does not exist in the given script.", name);
                throw BackendError(buf);
            }
            const c10::FunctionSchema &schema = fn->getSchema();
            if (schema.arguments().size() != 3) {
                snprintf(buf, sizeof buf, "Wrong number of inputs in function %s. Expected 3 but was %ld", name,
                         (long)schema.arguments().size());
                throw BackendError(buf);
            }
            if (!is_new_style(schema)) {
                snprintf(buf, sizeof buf,
                         "Wrong inputs type in function %s. Expected signature similar to: def %s(tensors: "
                         "List[Tensor], keys: List[str], args: List[str])",
                         name, name);
                throw BackendError(buf);
            }
        }
        s = script.release();
    }); });
    if (!ran) {
        char buf[RAI_ERRLEN];
        snprintf(buf, sizeof buf, "script source too large to compile safely here (%zu bytes)", len);
        set_err(err, buf);
    }
    return ok ? s : nullptr;
}

void script_free(void *script) {
    guarded(nullptr, [&] { delete static_cast<TorchScript *>(script); });
}

int script_run(void *script, const char *fn_name, RAI_Tensor *const *inputs, size_t ninputs, long variadic,
               const char *const *keys, size_t nkeys, const char *const *args, size_t nargs,
               RAI_Tensor **outputs, size_t max_outputs, size_t *noutputs, char *err) {
    TorchScript *s = static_cast<TorchScript *>(script);
    if (noutputs) *noutputs = 0;
    ext_error_reset();
    bool ok = guarded(err, [&] {
        if (!fn_name || !*fn_name) throw BackendError("function name not specified"); /* libtorch's own text is an assert */
        torch::jit::Function *fn = s->cu->find_function(fn_name);
        if (!fn) throw BackendError(std::string("Function does not exist: ") + (fn_name ? fn_name : ""));
        apply_intra_op(0);
        c10::InferenceMode guard;
        std::unordered_set<const void *> in_storages;
        std::vector<at::Tensor> tensors;
        tensors.reserve(ninputs);
        for (size_t i = 0; i < ninputs; i++) {
            tensors.push_back(to_torch(inputs[i]));
            in_storages.insert(tensors.back().storage().data());
        }
        const c10::FunctionSchema &schema = fn->getSchema();
        torch::jit::Stack stack;
        if (is_new_style(schema)) {
            c10::List<at::Tensor> tl(tensors);
            c10::List<std::string> kl, al;
            for (size_t i = 0; i < nkeys; i++) kl.push_back(keys[i]);
            for (size_t i = 0; i < nargs; i++) al.push_back(args[i]);
            stack = {c10::IValue(tl), c10::IValue(kl), c10::IValue(al)};
        } else if (variadic >= 0 && (size_t)variadic <= tensors.size()) {
            /* old-style with `$`: inputs by position, then the rest as one list */
            auto list_start = tensors.begin() + variadic;
            for (auto it = tensors.begin(); it != list_start; ++it) stack.emplace_back(*it);
            stack.emplace_back(c10::List<at::Tensor>(std::vector<at::Tensor>(list_start, tensors.end())));
        } else if (schema.arguments().size() == 1 && *schema.arguments()[0].type() == *c10::ListType::ofTensors()) {
            /* best effort for old scripts taking one List[Tensor] */
            stack = {c10::IValue(c10::List<at::Tensor>(tensors))};
        } else {
            /* old-style: inputs by position; the schema check reports mismatches */
            for (auto &t : tensors) stack.emplace_back(t);
        }
        c10::IValue result = (*fn)(std::move(stack));
        collect_outputs(result, in_storages, outputs, max_outputs, noutputs, false);
    });
    /* An extension's own text (e.g. the Redis error reply) rather than the
     * interpreter's traceback around it. */
    std::string ext_msg;
    if (!ok && ext_error_take(ext_msg)) set_err(err, ext_msg);
    return ok ? 0 : -1;
}

/* ---- backend ---- */

int init(const RAI_EngineOps *engine, const RAI_BackendConfig *config, char *err) {
    bool ok = guarded(err, [&] {
        if (!engine) throw BackendError("No engine operations given");
        g_engine = engine;
        g_default_intra = config && config->intra_op_parallelism > 0 ? (int)config->intra_op_parallelism
                                                                    : at::get_num_threads();
        static bool interop_set = false; /* libtorch allows one call per process */
        if (!interop_set && config && config->inter_op_parallelism > 0) {
            interop_set = true;
            try {
                at::set_num_interop_threads((int)config->inter_op_parallelism);
            } catch (const std::exception &e) {
                if (engine->log) {
                    std::string msg = std::string("TORCH: could not set inter-op threads: ") + e.what();
                    engine->log("warning", msg.c_str());
                }
            }
        }
        ext_register();
    });
    return ok ? 0 : -1;
}

const char *version() { return TORCH_VERSION; }

const RAI_BackendOps kOps = {
    RAI_BACKEND_ABI_VERSION, "TORCH",      init,          version,    model_create, model_free,
    model_signature,         model_run,    script_create, script_free, script_run,  nullptr,
};

} // namespace

extern "C" __attribute__((visibility("default"))) const RAI_BackendOps *RAI_BackendGetOps(void) { return &kOps; }
