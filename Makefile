# iotwall: the two commands a person needs are `make demo` and `make test`.
# Every target installs what it needs first (`make deps`, idempotent).

BUILD      ?= build
TEST_BUILD ?= build-test
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc)
DEMO_DIR   ?= $(BUILD)/demo

# Debian 12 packages the build, the tests and the benchmarks need.
PACKAGES := build-essential cmake ninja-build pkg-config zlib1g-dev \
            libabsl-dev libboost-dev libboost-program-options-dev nlohmann-json3-dev \
            catch2 libbenchmark-dev gnuplot-nox python3 \
            libpcap-dev libhttp-parser-dev libsimdjson-dev libssl-dev libyaml-cpp-dev \
            clang libclang-rt-14-dev libcbor-dev \
            libnetfilter-queue-dev libmnl-dev libsqlite3-dev libsystemd-dev \
            nftables iptables iproute2 systemd sqlite3

export DEBIAN_FRONTEND := noninteractive

.PHONY: all deps build test bench demo demo-offline evaluation fuzz format clean install uninstall soak

all: build

# Installs only what is missing; runs `apt-get update` once, only then.
deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer.
$(TEST_BUILD)/build.ninja: | deps
	cmake -S . -B $(TEST_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DIOTWALL_SANITIZE=ON -DIOTWALL_BENCH=OFF

test: deps $(TEST_BUILD)/build.ninja
	cmake --build $(TEST_BUILD) -j $(JOBS)
	cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS)
	BUILD_DIR=$(abspath $(FUZZ_BUILD)) JOBS=$(JOBS) tests/fuzz/run.sh 5

# Every libFuzzer target (clang, ASan + UBSan) for FUZZ_SECONDS each, then
# the saved regression inputs; a crash's input is kept in tests/fuzz/regressions/.
fuzz: deps
	BUILD_DIR=$(abspath $(FUZZ_BUILD)) JOBS=$(JOBS) tests/fuzz/run.sh $(FUZZ_SECONDS)

# Component benchmarks, then the inline firewall against its two baselines
# (no queue, an accept-all NFQUEUE program) in network namespaces (root).
bench: build
	$(BUILD)/tests/bench/iotwall_bench
	$(BUILD)/tests/bench/iotwall_dpi_bench
	python3 tests/bench/inline_bench.py $(BUILD) || [ $$? -eq 77 ]

# The daemon under traffic for SOAK_MINUTES: its memory (docs/PERFORMANCE.md).
SOAK_MINUTES ?= 10
soak: build
	python3 tests/bench/soak.py $(BUILD) --minutes $(SOAK_MINUTES) || [ $$? -eq 77 ]

# The inline firewall live: a simulated site in network namespaces behind
# `iotwall run` (root; tests/live/demo.py). Where namespaces or NFQUEUE are
# not available it says why and runs the offline demo instead.
demo: build
	@python3 tests/live/demo.py $(BUILD)/daemon/iotwall $(BUILD)/demo-live; rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "running the offline demo instead"; $(MAKE) --no-print-directory demo-offline; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi

# Offline: simulate a site with attacks, replay it through the detector (an
# emulated site manager answers after 5 min), then the same site written as
# packets, through the DPI.
demo-offline: build
	@mkdir -p $(DEMO_DIR)
	$(BUILD)/daemon/iotwall sim --rooms 12 --hours 24 --seed 7 --out $(DEMO_DIR)/site.csv \
	  --pcap $(DEMO_DIR)/site.pcap --site-map $(DEMO_DIR)/site.yaml
	$(BUILD)/daemon/iotwall eval --trace $(DEMO_DIR)/site.csv --answer-after 300 \
	  --progress --show-questions 8 --report $(DEMO_DIR)/report
	@echo "charts: $(DEMO_DIR)/report/roc.png $(DEMO_DIR)/report/errors.png"
	@echo; echo "the same site as packets, through the DPI:"
	$(BUILD)/daemon/iotwall eval --pcap $(DEMO_DIR)/site.pcap --site-map $(DEMO_DIR)/site.yaml \
	  --labels $(DEMO_DIR)/site.csv --answer-after 300

# The tables of docs/EVALUATION.md, measured afresh (seeds 1-5, ablation, sizes).
evaluation: build
	python3 tests/eval/evaluate.py --bin $(BUILD)/daemon/iotwall --work $(BUILD)/evaluation

include install.mk

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD)
