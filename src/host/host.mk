# The Python host: build/redisgears_py.so (module "rg").  It embeds the
# CPython that $(PYTHON) (the venv) was made from; its home, the venv and the
# runtime directory are baked in as defaults and can be overridden by module
# arguments (PYTHON_HOME, VENV, RUNTIME, PYTHONPATH, THREADS).
HOST_SRC = $(wildcard src/host/*.c src/common/*.c)
HOST_OBJ = $(HOST_SRC:%.c=$(BUILD)/obj/host/%.o)
ALL += $(BUILD)/redisgears_py.so
host: $(BUILD)/redisgears_py.so

HOST_PY_VARS := $(shell $(PYTHON) -c 'import sys, sysconfig as s; print(s.get_paths()["include"], s.get_config_var("LIBDIR"), s.get_config_var("LDVERSION"), sys.base_prefix, sys.prefix)' 2>/dev/null)
HOST_PY_INC = $(word 1,$(HOST_PY_VARS))
HOST_PY_LIBDIR = $(word 2,$(HOST_PY_VARS))
HOST_PY_LDVER = $(word 3,$(HOST_PY_VARS))
HOST_PY_HOME = $(word 4,$(HOST_PY_VARS))
HOST_PY_VENV = $(word 5,$(HOST_PY_VARS))

HOST_CFLAGS = -I$(HOST_PY_INC) \
	-DRG_DEFAULT_PYTHON_HOME=\"$(HOST_PY_HOME)\" -DRG_DEFAULT_VENV=\"$(HOST_PY_VENV)\" \
	-DRG_DEFAULT_RUNTIME=\"$(CURDIR)/src/host/runtime\" \
	-DRG_LIBPYTHON=\"libpython$(HOST_PY_LDVER).so.1.0\"

# Host objects get their own directory: they share rm_api.c with the engine
# but are compiled with the Python include path.
$(BUILD)/obj/host/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HOST_CFLAGS) -c -o $@ $<

$(BUILD)/redisgears_py.so: $(HOST_OBJ)
	$(CC) $(LDFLAGS_SO) -o $@ $^ -L$(HOST_PY_LIBDIR) -Wl,-rpath,$(HOST_PY_LIBDIR) \
		-lpython$(HOST_PY_LDVER) -ldl -lpthread -lm

# Installed beside its runtime/ and a venv/ of its own (src/host/requirements.txt),
# which it finds next to itself (install_dirs.c): the tree can be moved.  The
# venv is made from the interpreter the host embeds.
HOST_PY_BASE = $(shell $(PYTHON) -c 'import sys; print(sys._base_executable)' 2>/dev/null)
.PHONY: install-host
install: install-host
install-host: $(BUILD)/redisgears_py.so
	install -D -m 755 $(BUILD)/redisgears_py.so $(INSTALL_DIR)/redisgears_py.so
	rm -rf $(INSTALL_DIR)/runtime $(INSTALL_DIR)/venv
	install -d $(INSTALL_DIR)/runtime
	install -m 644 src/host/runtime/*.py $(INSTALL_DIR)/runtime/
	$(HOST_PY_BASE) -m venv $(INSTALL_DIR)/venv
	$(INSTALL_DIR)/venv/bin/python -m pip install -q --disable-pip-version-check -r src/host/requirements.txt
