# The engine: build/redisai.so
ENGINE_SRC = $(wildcard src/engine/*.c src/common/*.c)
ENGINE_OBJ = $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
ALL += $(BUILD)/redisai.so
engine: $(BUILD)/redisai.so

$(BUILD)/redisai.so: $(ENGINE_OBJ)
	$(CC) $(LDFLAGS_SO) -Wl,--no-undefined -o $@ $^ -ldl -lpthread -lm

$(BUILD)/obj/src/engine/module.o: CFLAGS += -DGIT_SHA=\"$(GIT_SHA)\"

.PHONY: install-engine
install: install-engine
install-engine: $(BUILD)/redisai.so
	install -D -m 755 $< $(INSTALL_DIR)/redisai.so
