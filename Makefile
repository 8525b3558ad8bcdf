# Flowella API keys. `make test` runs every test; `make run` runs the whole
# system on this machine. sam build calls the build-<LogicalId> targets.

SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.2
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
LOCAL_BIN := $(CURDIR)/.local/bin

# sam build (BuildMethod: makefile) sets ARTIFACTS_DIR; Lambda runs arm64.
ARTIFACTS_DIR ?= $(CURDIR)/.local/artifacts
GOARCH_LAMBDA ?= arm64
LAMBDA_BUILD = CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(ARTIFACTS_DIR)/bootstrap

.PHONY: doctor run token org seed bench fuzz audit-replay test validate lint distclean check-format vet cfn-lint bench run token clean chromium \
	build-AuthorizerFunction build-WhoamiFunction build-CreateKeyFunction build-ListKeysFunction \
	build-GetKeyFunction build-UpdateKeyFunction build-RevokeKeyFunction \
	build-RollKeyFunction build-AuditFunction build-ListAuditEventsFunction \
	build-KeyActivityFunction build-ListKeyActivityFunction build-GetKeyUsageFunction build-GetKeyExposureFunction

## run: the whole system on 127.0.0.1:$(PORT) (default 3000), DynamoDB Local included
# stdout carries the access log, one JSON line per request, and nothing else:
# the build says what it does on stderr.
run:
	@mkdir -p .local/bin
	@echo "$(GO) build -o .local/bin/flowella-local ./cmd/local" >&2
	@$(GO) build -o .local/bin/flowella-local ./cmd/local
	@exec .local/bin/flowella-local

# `make token ORG=org_demo USER=u_1 ROLE=admin` prints a session token alone
# on stdout. USER is also the shell's login name, so it counts only when given
# on the command line.
ORG ?= org_demo
ROLE ?= admin
TOKEN_USER := $(if $(filter command line,$(origin USER)),$(USER),u_demo_admin)
# Built, then run, so that an error prints its message alone (go run would add "exit status N").
## token: print a session token for the local stack
token:
	@mkdir -p .local/bin && $(GO) build -o .local/bin/token ./cmd/token
	@.local/bin/token -org '$(ORG)' -user '$(TOKEN_USER)' -role '$(ROLE)'

## org: set a local organisation's plan and features, e.g. make org ORG=org_x PLAN=paid FEATURES=audit_log;
## without PLAN an existing organisation keeps its plan (a new one is refused), without FEATURES its features
## (FEATURES= clears them); ON_EXPOSURE=revoke|notify sets what happens to its keys found in public
ON_EXPOSURE ?=
PLAN ?=
org:
	@mkdir -p .local/bin && $(GO) build -o .local/bin/orgctl ./cmd/orgctl
	@.local/bin/orgctl -org '$(ORG)' -plan '$(PLAN)' $(if $(filter undefined,$(origin FEATURES)),,-features '$(FEATURES)') -on-exposure '$(ON_EXPOSURE)'

.PHONY: report-leak build-SecretScanningFunction
## report-leak: report KEY as GitHub's secret scanning would, signed with the local test key, to make run
## (LEAK_URL, LEAK_SOURCE: where it was "found")
KEY ?=
LEAK_URL ?= https://github.com/octo-org/octo-repo/blob/main/.env
LEAK_SOURCE ?= content
report-leak:
	@$(GO) run ./cmd/report-leak -key '$(KEY)' -url '$(LEAK_URL)' -source '$(LEAK_SOURCE)'

## seed: tables and demo organisations on $(DYNAMODB_ENDPOINT), for sam local
seed:
	$(GO) run ./cmd/local -setup-only

## bench: rewrites the measured section of BENCHMARKS.md (cmd/bench: the authorizer's Lambda path and make run's
## whoami against a bare GetItem, allocations, bootstrap sizes and cold starts against hello world), then the
## other benchmarks (key format, authorizer decisions, audit and activity delays)
bench: $(LOCAL_BIN)/aws-lambda-rie
	scripts/dynamodb-local.sh run -- $(GO) run ./cmd/bench -write BENCHMARKS.md
	scripts/dynamodb-local.sh run -- $(GO) test -run '^$$' -bench . -benchmem ./shared/apikey/ ./shared/authorizer/
	$(GO) test -run '^$$' -bench AuditDelay -benchtime 1x -timeout 10m ./e2e/
	scripts/dynamodb-local.sh run -- $(GO) test -run '^$$' -bench AuthorizerRecording -benchtime 2000x ./local/localstack/
	$(GO) test -run '^$$' -bench ActivityDelay -benchtime 1x -timeout 10m ./e2e/

## fuzz: every Fuzz target, one after another, FUZZTIME each (default 20s); prints executions and crashes per target
FUZZTIME ?= 20s
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

## audit-replay: replay the audit dead-letter entries (the local stack's file; AUDIT_DLQ_URL and AUDIT_TABLE for AWS)
audit-replay:
	@$(GO) run ./cmd/audit-replay

# Every IAM check of the local stack's DynamoDB calls during the tests, one
# JSON line each (local/localiam); make validate holds the roles to them.
IAM_CALLS := .local/iam-calls.jsonl

## test: every test, with DynamoDB Local started (and stopped) around them, then make validate on the calls they made
test: check-format vet cfn-lint $(LOCAL_BIN)/aws-lambda-rie chromium
	@mkdir -p .local && rm -f $(IAM_CALLS)
	LOCAL_IAM_RECORD=$(CURDIR)/$(IAM_CALLS) scripts/dynamodb-local.sh run -- $(GO) test -count=1 -race -timeout 20m ./...
	@$(MAKE) --no-print-directory validate

## validate: template.yaml as the SAM translator expands it: one stage, the authorizer on every route (TTL 0),
## each role covering the DynamoDB calls the tests recorded (recorded first, by the local stack's tests, when missing)
validate:
	@if [[ ! -s $(IAM_CALLS) ]]; then \
		echo "validate: recording the functions' DynamoDB calls (the local stack's tests) into $(IAM_CALLS)"; \
		mkdir -p .local && rm -f $(IAM_CALLS).tmp && \
		LOCAL_IAM_RECORD=$(CURDIR)/$(IAM_CALLS).tmp scripts/dynamodb-local.sh run -- $(GO) test -count=1 ./local/localstack/ && \
		mv $(IAM_CALLS).tmp $(IAM_CALLS); \
	fi
	python3 scripts/validate-template.py --calls $(IAM_CALLS) template.yaml

## doctor: checks the prerequisites (Go, Java 17+, npm, Python 3 with cfn-lint and samtranslator, curl, Chromium)
## and says, for each one missing, what to install and how; fails when one is missing
doctor:
	@scripts/doctor.sh

## lint: gofmt, go vet, staticcheck and cfn-lint
lint: check-format vet cfn-lint $(LOCAL_BIN)/staticcheck
	$(LOCAL_BIN)/staticcheck ./...

check-format:
	@out="$$(gofmt -l .)"; if [[ -n "$$out" ]]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

cfn-lint:
	cfn-lint template.yaml

# Chromium for the settings page's browser tests: installed when missing (as
# root with apt-get), otherwise one line says how.
chromium:
	@scripts/chromium.sh

# The Lambda Runtime Interface Emulator, for the built-binary tests in e2e/.
$(LOCAL_BIN)/aws-lambda-rie:
	GOBIN=$(LOCAL_BIN) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(LOCAL_BIN)/staticcheck:
	GOBIN=$(LOCAL_BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

build-AuthorizerFunction:
	$(LAMBDA_BUILD) ./functions/authorizer
build-WhoamiFunction:
	$(LAMBDA_BUILD) ./functions/whoami
build-CreateKeyFunction:
	$(LAMBDA_BUILD) ./functions/create-key
build-ListKeysFunction:
	$(LAMBDA_BUILD) ./functions/list-keys
build-GetKeyFunction:
	$(LAMBDA_BUILD) ./functions/get-key
build-UpdateKeyFunction:
	$(LAMBDA_BUILD) ./functions/update-key
build-RevokeKeyFunction:
	$(LAMBDA_BUILD) ./functions/revoke-key
build-RollKeyFunction:
	$(LAMBDA_BUILD) ./functions/roll-key
build-SecretScanningFunction:
	$(LAMBDA_BUILD) ./functions/secret-scanning
build-AuditFunction:
	$(LAMBDA_BUILD) ./functions/audit-stream
build-ListAuditEventsFunction:
	$(LAMBDA_BUILD) ./functions/list-audit-events
build-KeyActivityFunction:
	$(LAMBDA_BUILD) ./functions/key-activity
build-ListKeyActivityFunction:
	$(LAMBDA_BUILD) ./functions/list-key-activity
build-GetKeyUsageFunction:
	$(LAMBDA_BUILD) ./functions/get-key-usage
build-GetKeyExposureFunction:
	$(LAMBDA_BUILD) ./functions/get-key-exposure

# The hello-world Lambda that make bench compares bootstraps with, built as the functions are.
.PHONY: bench-hello
bench-hello:
	$(LAMBDA_BUILD) ./local/bench/hello

clean:
	rm -rf .local/artifacts .aws-sam

## distclean: also DynamoDB Local, the tools and the local stack's data
distclean: clean
	rm -rf .local
