/* torch_backend.h -- what the TORCH backend's two files share: the engine
 * operations, tensor conversion (backend_torch.cpp) and script compilation
 * with the RedisAI extensions (torch_ext.cpp).  Internal to the backend. */
#ifndef BACKENDS_TORCH_BACKEND_H
#define BACKENDS_TORCH_BACKEND_H

#include <torch/script.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_set>

extern "C" {
#include "../../engine/backend_api.h"
}

namespace rai_torch {

extern const RAI_EngineOps *g_engine;

struct BackendError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

at::ScalarType to_torch_dtype(RAI_DTypeId dt);
/* Wraps an engine tensor without copying (the engine keeps ownership). */
at::Tensor to_torch(const RAI_Tensor *t);
/* A new engine tensor borrowing `t`'s memory; copies when `t` shares the
 * storage of one of `inputs` (see backend_torch.cpp). */
RAI_Tensor *to_engine(at::Tensor t, const std::unordered_set<const void *> &inputs);

/* Registers the extension operators (once, from init). */
void ext_register();
/* Compiles script source; the names `redis` and `redisAI` resolve to the
 * extension operators (torch_ext.cpp). */
std::shared_ptr<torch::jit::CompilationUnit> compile_script(const std::string &source);
/* The text an extension operator failed with during this thread's script
 * run: reset before a run, taken after a failed one. */
void ext_error_reset();
bool ext_error_take(std::string &msg);

} // namespace rai_torch

#endif
