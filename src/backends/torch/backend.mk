# TORCH backend: build/backends/redisai_torch/redisai_torch.so, a C++ bridge
# over libtorch from the pinned torch wheel in the venv (dependencies.md §8).
# The torch directory is found without importing torch (fast); when torch is
# not installed the backend is skipped so the other parts still build.
TORCH_DIR := $(shell $(PYTHON) -c "import importlib.util as u,os;s=u.find_spec('torch');print(os.path.dirname(s.origin) if s else '')" 2>/dev/null)
TORCH_SO := $(BUILD)/backends/redisai_torch/redisai_torch.so
TORCH_OBJS := $(BUILD)/obj/src/backends/torch/backend_torch.o $(BUILD)/obj/src/backends/torch/torch_ext.o

ifneq ($(TORCH_DIR),)
ALL += $(TORCH_SO)
backends: $(TORCH_SO)

# torch headers as system headers, so their warnings do not trip -Werror.
$(BUILD)/obj/src/backends/torch/%.o: CXXFLAGS += -D_GLIBCXX_USE_CXX11_ABI=1 -fvisibility-inlines-hidden \
	-isystem $(TORCH_DIR)/include -isystem $(TORCH_DIR)/include/torch/csrc/api/include

# Exports only RAI_BackendGetOps (version script); finds libtorch through its
# RUNPATH: $ORIGIN/lib first (packaged layout, §6.2), then the venv's torch/lib.
$(TORCH_SO): $(TORCH_OBJS) src/backends/torch/exports.map
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS_SO) -Wl,--version-script=src/backends/torch/exports.map -o $@ $(TORCH_OBJS) \
		-L$(TORCH_DIR)/lib -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10 -Wl,--as-needed \
		-Wl,-rpath,'$$ORIGIN/lib' -Wl,-rpath,$(TORCH_DIR)/lib

# Installed with the libtorch libraries it needs in lib/, which its RUNPATH
# ($ORIGIN/lib) finds first.
TORCH_LIBS = libtorch.so libtorch_cpu.so libc10.so libgomp.so.1
.PHONY: install-torch
install: install-torch
install-torch: $(TORCH_SO)
	install -D -m 755 $(TORCH_SO) $(INSTALL_DIR)/backends/redisai_torch/redisai_torch.so
	install -d $(INSTALL_DIR)/backends/redisai_torch/lib
	install -m 644 $(TORCH_LIBS:%=$(TORCH_DIR)/lib/%) $(INSTALL_DIR)/backends/redisai_torch/lib/
else
$(info torch not found for $(PYTHON): TORCH backend not built)
endif
