# Crossbill — developer entry points. Each target installs the Debian packages it needs.
SHELL := /bin/bash
SWIFT ?= swift

# Debian packages: C libraries the package links, plus tools the tests and benchmarks run.
BUILD_PACKAGES := librdkafka-dev libcurl4-openssl-dev libsqlite3-dev pkg-config
BENCH_PACKAGES := wrk gnuplot-nox
# Tests/DeploymentTests: `docker-compose config` validates docker-compose.yml; readelf (binutils) reads
# what the binaries link. Tools/scripts/contract.py (the topic contract tests): PyYAML and jsonschema.
# Tests/Browser/dashboard.py (the notifier's dashboard in a browser): headless Chromium and Selenium.
TEST_PACKAGES := docker-compose binutils python3-yaml python3-jsonschema chromium chromium-driver python3-selenium

.PHONY: all build test run bench deps test-deps bench-deps clean

all: build

deps:
	@Tools/scripts/install-packages.sh $(BUILD_PACKAGES)

test-deps: deps
	@Tools/scripts/install-packages.sh $(TEST_PACKAGES)

bench-deps: deps
	@Tools/scripts/install-packages.sh $(BENCH_PACKAGES)

build: deps
	$(SWIFT) build

## test: every test (unit, service and end-to-end against the dev broker).
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

## run: the dev broker and the services built so far, on localhost; Ctrl-C stops them.
run: build
	@Tools/scripts/run-local.sh

## bench: ingest against a bare Hummingbird endpoint, then the whole pipeline against the sandbox at
## saturation, then at 500 webhooks/s with Salesforce answering in 20-60 ms (the CRM latency target).
bench: bench-deps
	$(SWIFT) build -c release
	@Tools/scripts/bench-ingest.sh
	@.build/release/bench-pipeline --customers $${BENCH_CUSTOMERS:-1000} --plot bench-results/pipeline-latency.png $${BENCH_PIPELINE_OPTIONS:-}
	@.build/release/bench-pipeline --customers 1200 --rate 500 --salesforce-latency 20-60 --transport-messages 0 \
		--output bench-results/pipeline-500.json --plot bench-results/pipeline-500-latency.png

clean:
	rm -rf .build var bench-results
