# Flowella API keys. `make test` runs every test; `make run` runs the whole
# system on this machine. sam build calls the build-<LogicalId> targets.

SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.2
LOCAL_BIN := $(CURDIR)/.local/bin

# sam build (BuildMethod: makefile) sets ARTIFACTS_DIR; Lambda runs arm64.
ARTIFACTS_DIR ?= $(CURDIR)/.local/artifacts
GOARCH_LAMBDA ?= arm64
LAMBDA_BUILD = CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(ARTIFACTS_DIR)/bootstrap

.PHONY: test lint check-format vet cfn-lint bench run token clean \
	build-AuthorizerFunction build-WhoamiFunction build-CreateKeyFunction build-ListKeysFunction \
	build-GetKeyFunction build-UpdateKeyFunction build-RevokeKeyFunction \
	build-AuditFunction build-ListAuditEventsFunction

## test: every test, with DynamoDB Local started (and stopped) around them
test: check-format vet cfn-lint
	scripts/dynamodb-local.sh run -- $(GO) test -count=1 -race ./...

## lint: gofmt, go vet, staticcheck and cfn-lint
lint: check-format vet cfn-lint $(LOCAL_BIN)/staticcheck
	$(LOCAL_BIN)/staticcheck ./...

check-format:
	@out="$$(gofmt -l .)"; if [[ -n "$$out" ]]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

cfn-lint:
	cfn-lint template.yaml

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
build-AuditFunction:
	$(LAMBDA_BUILD) ./functions/audit-stream
build-ListAuditEventsFunction:
	$(LAMBDA_BUILD) ./functions/list-audit-events

clean:
	rm -rf .local/artifacts .aws-sam
