# TF backend: build/backends/redisai_tensorflow/redisai_tensorflow.so, on the
# TensorFlow C API of the tensorflow-cpu wheel installed in the venv (headers
# and libraries come from the wheel; nothing is committed).  Built only when
# the wheel is installed.
TF_DIR := $(shell $(PYTHON) -c 'import importlib.util as u; s = u.find_spec("tensorflow"); print(s.submodule_search_locations[0] if s else "")' 2>/dev/null)
TF_SO := $(BUILD)/backends/redisai_tensorflow/redisai_tensorflow.so

ifneq ($(TF_DIR),)
ALL += $(TF_SO)
backends: $(TF_SO)

$(BUILD)/obj/src/backends/tensorflow/%.o: CFLAGS += -isystem $(TF_DIR)/include

$(TF_SO): $(BUILD)/obj/src/backends/tensorflow/backend_tf.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SO) -Wl,--no-undefined -o $@ $^ -L$(TF_DIR) \
	    -l:libtensorflow_cc.so.2 -l:libtensorflow_framework.so.2 -Wl,-rpath,'$$ORIGIN/lib' -Wl,-rpath,$(TF_DIR)

# Installed with TensorFlow's two libraries in lib/ ($ORIGIN/lib comes first).
.PHONY: install-tensorflow
install: install-tensorflow
install-tensorflow: $(TF_SO)
	install -D -m 755 $(TF_SO) $(INSTALL_DIR)/backends/redisai_tensorflow/redisai_tensorflow.so
	install -d $(INSTALL_DIR)/backends/redisai_tensorflow/lib
	install -m 644 $(TF_DIR)/libtensorflow_cc.so.2 $(TF_DIR)/libtensorflow_framework.so.2 \
		$(INSTALL_DIR)/backends/redisai_tensorflow/lib/
endif

# tf_driver: STRING values, settings, aliasing, concurrent runs and timings
TF_DRIVER_SRC = src/backends/tensorflow/tools/tf_driver.c src/engine/tensor.c src/engine/dtype.c \
                src/engine/error.c src/common/rm_api.c
ALL += $(BUILD)/tests/tf_driver

$(BUILD)/tests/tf_driver: $(TF_DRIVER_SRC:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ -ldl -lpthread
