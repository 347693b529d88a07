# Builds the three parts of redisai-ext.  `make` builds the C modules;
# `make ext` builds the redisAI cffi extension into the venv (see build_ffi.py).
#   build/redisai.so          the engine (module "ai")
#   build/tests/llapi_test.so a test module that drives the engine's C API

CC ?= gcc
BUILD ?= build
GIT_SHA := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -fPIC -fvisibility=hidden -Wall -Wextra -Werror -MMD -MP
LDFLAGS_SO = -shared -Wl,--no-undefined -Wl,-z,now

ENGINE_SRC = $(wildcard src/engine/*.c) src/common/rm_api.c
ENGINE_OBJ = $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
LLAPI_TEST_SRC = tests/engine/llapi_test_module.c src/common/rm_api.c
LLAPI_TEST_OBJ = $(LLAPI_TEST_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all engine test-modules clean
all: engine test-modules
engine: $(BUILD)/redisai.so
test-modules: $(BUILD)/tests/llapi_test.so

$(BUILD)/redisai.so: $(ENGINE_OBJ)
	$(CC) $(LDFLAGS_SO) -o $@ $^ -ldl -lpthread -lm

$(BUILD)/tests/llapi_test.so: $(LLAPI_TEST_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SO) -o $@ $^

$(BUILD)/obj/src/engine/module.o: CFLAGS += -DGIT_SHA=\"$(GIT_SHA)\"

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
