# Runs a backend library outside Redis: build/tests/backend_harness
HARNESS_SRC = tests/backends/backend_harness.c src/engine/tensor.c src/engine/dtype.c \
              src/engine/error.c src/common/rm_api.c
ALL += $(BUILD)/tests/backend_harness

$(BUILD)/tests/backend_harness: $(HARNESS_SRC:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_EXE) -o $@ $^ -ldl
