# Test module driving the engine's shared C API: build/tests/llapi_test.so
LLAPI_TEST_OBJ = $(BUILD)/obj/tests/engine/llapi_test_module.o $(BUILD)/obj/src/common/rm_api.o
ALL += $(BUILD)/tests/llapi_test.so

$(BUILD)/tests/llapi_test.so: $(LLAPI_TEST_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SO) -Wl,--no-undefined -o $@ $^
