# Builds the three parts of redisai-ext.  `make` (= `make all`) builds every
# module and library into build/.  Each part adds its own targets to ALL from
# its fragment (*.mk), so parts do not edit each other's rules:
#   src/engine/engine.mk            build/redisai.so (the engine, module "ai")
#   src/backends/<name>/backend.mk  build/backends/redisai_<name>/redisai_<name>.so
#   src/host/host.mk                the Python host module
#   redisAI extension               build_ffi.py (see its .mk)
# `make engine|backends|host|pyapi` builds one part (scripts/setup.sh times each).
# `make install PREFIX=/opt/x` lays out a tree that can be moved anywhere:
# $(PREFIX)/lib/redisai-ext/{redisai.so, redisgears_py.so, backends/, runtime/,
# venv/}; each module finds the rest beside itself (docs/install.md).
# PYTHON is the venv interpreter (scripts/setup.sh passes it).
# `make SANITIZE=address` (or undefined) builds everything instrumented
# (-O1 -g -fsanitize=...) into build-address/ (build-undefined/), beside the
# normal build; scripts/sanitize.sh runs the tests against it.

PREFIX ?= /usr/local
INSTALL_DIR = $(DESTDIR)$(PREFIX)/lib/redisai-ext

CC ?= gcc
CXX ?= g++
PYTHON ?= $(CURDIR)/.venv/bin/python
GIT_SHA := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
ifneq ($(SANITIZE),)
ifeq ($(filter $(SANITIZE),address undefined),)
$(error SANITIZE is address or undefined, not '$(SANITIZE)')
endif
BUILD ?= build-$(SANITIZE)
SAN_FLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
SAN_EXE_LIBS = -Wl,--no-as-needed -lstdc++ -Wl,--as-needed
CFLAGS ?= -O1 -g
CXXFLAGS ?= -O1 -g
endif
BUILD ?= build
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -fPIC -fvisibility=hidden -Wall -Wextra -Werror -MMD -MP $(SAN_FLAGS)
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++17 -fPIC -fvisibility=hidden -Wall -Wextra -Werror -MMD -MP $(SAN_FLAGS)
LDFLAGS_SO = -shared -Wl,-z,now $(SAN_FLAGS)
# Test executables link with the sanitizer runtime too, and (sanitized) with
# libstdc++ from the start: ASan finds the real __cxa_throw at start-up only,
# and the backends they dlopen throw C++ exceptions.
LDFLAGS_EXE = $(SAN_FLAGS) $(SAN_EXE_LIBS)

ALL :=
.PHONY: all clean engine backends host pyapi install
.DEFAULT_GOAL := all

include $(sort $(wildcard src/*/*.mk src/backends/*/*.mk tests/*/*.mk))

all: $(ALL)

# Each part adds its pieces as prerequisites of install (install-<part>).
install: all
	@echo "installed in $(INSTALL_DIR)"

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
