# The redisAI Python API: the cffi extension redisai/_redisai_ext*.so, built in
# place by build_ffi.py, and an editable install of the package (`redisai` +
# the `redisAI` shim) into $(PYTHON)'s environment, so that the host's
# embedded interpreter can `import redisAI`.
RAI_EXT_DEPS = build_ffi.py setup.py src/redisai_ext.c $(wildcard src/redisai_ext/*.c src/redisai_ext/*.h) \
	src/include/redisai.h src/host/host_api.h src/common/rm_api.h
RAI_EXT_STAMP = $(BUILD)/redisai_ext/.built
ALL += $(RAI_EXT_STAMP)

$(RAI_EXT_STAMP): $(RAI_EXT_DEPS)
	@mkdir -p $(dir $@)
	$(PYTHON) build_ffi.py
	$(PYTHON) -m pip show -q redisai-ext-pyapi >/dev/null 2>&1 || \
		$(PYTHON) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@
