# The redisAI Python API: the cffi extension redisai/_redisai_ext*.so, built in
# place by build_ffi.py, and an editable install of the package (the `redisAI`
# shim + `redisai_ext`, whose files are in redisai/) into $(PYTHON)'s
# environment, so that the host's embedded interpreter can `import redisAI`.
RAI_EXT_DEPS = build_ffi.py src/redisai_ext.c $(wildcard src/redisai_ext/*.c src/redisai_ext/*.h) \
	src/include/redisai.h src/host/host_api.h src/common/rm_api.h
RAI_EXT_STAMP = $(BUILD)/redisai_ext/.built
RAI_EXT_INSTALLED = $(BUILD)/redisai_ext/.installed
ifeq ($(SANITIZE),)
ALL += $(RAI_EXT_STAMP) $(RAI_EXT_INSTALLED)
pyapi: $(RAI_EXT_STAMP) $(RAI_EXT_INSTALLED)

$(RAI_EXT_STAMP): $(RAI_EXT_DEPS)
	@mkdir -p $(dir $@)
	$(PYTHON) build_ffi.py
	@touch $@

# Again whenever the package's layout (setup.py, pyproject.toml) changes.
$(RAI_EXT_INSTALLED): setup.py pyproject.toml | $(RAI_EXT_STAMP)
	@mkdir -p $(dir $@)
	$(PYTHON) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@# pip's build leaves its own copy (.abi3.so); build_ffi.py's is the one make keeps current.
	rm -f redisai/_redisai_ext.abi3.so
	@touch $@
else
# Sanitized: the instrumented extension goes to $(BUILD)/python/redisai_ext/
# with links to the package's Python files, and redisAI.py beside it; the
# tests give that directory to the host (PYTHONPATH), ahead of the venv's
# editable install, which stays the normal build's.
RAI_EXT_PY = $(BUILD)/python
ALL += $(RAI_EXT_STAMP)
pyapi: $(RAI_EXT_STAMP)

$(RAI_EXT_STAMP): $(RAI_EXT_DEPS) $(wildcard redisai/*.py) redisAI.py
	@mkdir -p $(dir $@) $(RAI_EXT_PY)/redisai_ext
	SANITIZE=$(SANITIZE) $(PYTHON) build_ffi.py $(BUILD)/redisai_ext $(RAI_EXT_PY)/redisai_ext
	ln -sfn $(CURDIR)/redisAI.py $(RAI_EXT_PY)/redisAI.py
	for f in redisai/*.py; do ln -sfn $(CURDIR)/$$f $(RAI_EXT_PY)/redisai_ext/; done
	@touch $@
endif

# Installed as a wheel into the installed host's venv (made by install-host).
.PHONY: install-pyapi
install: install-pyapi
install-pyapi: install-host $(RAI_EXT_STAMP)
	rm -rf $(BUILD)/wheel
	$(PYTHON) -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w $(BUILD)/wheel .
	$(INSTALL_DIR)/venv/bin/python -m pip install -q --disable-pip-version-check --no-deps $(BUILD)/wheel/*.whl
