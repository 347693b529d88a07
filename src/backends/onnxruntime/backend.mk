# ONNX Runtime backend: build/backends/redisai_onnxruntime/redisai_onnxruntime.so
# plus lib/libonnxruntime.so.1 -> the pinned wheel's runtime (dlopen'ed at
# init relative to the backend library; never linked, see dependencies.md §7.4).
ORT_DIR = $(BUILD)/backends/redisai_onnxruntime
ORT_SRC = $(wildcard src/backends/onnxruntime/*.c)
ORT_OBJ = $(ORT_SRC:%.c=$(BUILD)/obj/%.o)
ALL += $(ORT_DIR)/redisai_onnxruntime.so $(ORT_DIR)/lib/libonnxruntime.so.1
backends: $(ORT_DIR)/redisai_onnxruntime.so $(ORT_DIR)/lib/libonnxruntime.so.1

$(ORT_DIR)/redisai_onnxruntime.so: $(ORT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SO) -Wl,--no-undefined -o $@ $^ -ldl -lpthread

# The wheel's directory is asked from the venv interpreter at build time.
$(ORT_DIR)/lib/libonnxruntime.so.1:
	@mkdir -p $(dir $@)
	@capi=$$($(PYTHON) -c 'import onnxruntime,os;print(os.path.join(os.path.dirname(onnxruntime.__file__),"capi"))') && \
	  test -f "$$capi/libonnxruntime.so.1.32.0" && ln -sfn "$$capi/libonnxruntime.so.1.32.0" $@

# ort_probe: STRING inputs, unaligned inputs, concurrent runs and timings
# (tests/backends/test_onnxruntime.py).  Real engine tensor code, libc allocator.
ORT_PROBE_SRC = src/backends/onnxruntime/tools/ort_probe.c src/engine/tensor.c src/engine/dtype.c \
                src/engine/error.c src/common/rm_api.c
ALL += $(BUILD)/tests/ort_probe

$(BUILD)/tests/ort_probe: $(ORT_PROBE_SRC:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ -ldl -lpthread

# Installed with a copy of the runtime itself (the build tree links to the venv's).
.PHONY: install-onnxruntime
install: install-onnxruntime
install-onnxruntime: $(ORT_DIR)/redisai_onnxruntime.so $(ORT_DIR)/lib/libonnxruntime.so.1
	install -D -m 755 $(ORT_DIR)/redisai_onnxruntime.so $(INSTALL_DIR)/backends/redisai_onnxruntime/redisai_onnxruntime.so
	install -D -m 644 $$(readlink -f $(ORT_DIR)/lib/libonnxruntime.so.1) \
		$(INSTALL_DIR)/backends/redisai_onnxruntime/lib/libonnxruntime.so.1
