# The two commands of the README, plus a few for developers.
#   make run   — install missing packages, build, run the demo node (Ctrl-C stops it)
#   make test  — install missing packages, build, run the whole suite with ctest
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
PREFIX ?= /usr/local
SANITIZE ?=
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
  -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DGHOSTNET_SANITIZE=$(SANITIZE)
ifneq ($(shell command -v ccache 2>/dev/null),)
  CMAKE_FLAGS += -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
endif

.PHONY: all deps configure build run test install bench bench-http bench-http2 bench-ws sanitize clean

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) > $(BUILD_DIR).configure.log 2>&1 \
	  || { cat $(BUILD_DIR).configure.log; exit 1; }

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@exec ./$(BUILD_DIR)/samples/ghostnet-node $(ARGS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

install: build
	@cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# The suite under AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize:
	@$(MAKE) test BUILD_DIR=build-asan SANITIZE=address,undefined BUILD_TYPE=Debug

bench: build
	@./bench/run.sh $(BUILD_DIR)

bench-http: build
	@./bench/http.sh $(BUILD_DIR)

bench-http2: build
	@./bench/http2.sh $(BUILD_DIR)

bench-ws: build
	@./bench/ws.sh $(BUILD_DIR)

clean:
	@rm -rf $(BUILD_DIR) $(BUILD_DIR).configure.log
