# Terraform targets, included from the root Makefile (`include infra/terraform/terraform.mk`).
# One root module (infra/terraform) serves every environment; ENV picks its variables and state:
# -var-file=envs/$(ENV).tfvars and -backend-config=envs/$(ENV).backend.hcl.
#
#   make tf-fmt                  format the .tf files and regenerate the README tables
#   make tf-check                offline checks: fmt -check, README tables, checkov, tests/test_terraform.py
#   make tf-validate             init -backend=false + validate the root and every module (needs the registry)
#   make tf-plan ENV=dev         export the client views, render the scheduled batch, init the env's GCS backend, plan
#   make tf-apply ENV=dev        same, staging the scheduled release first, then apply (asks for confirmation)
#   (SCHEDULE=0: no build/schedule/$(ENV).json is written; SCHEDULE_PROFILE: the run profile of the nightly batch)
#   make tf-bootstrap ENV=dev    create the env's state bucket (once per environment, needs gcloud)
#   make tf-tools                checkov in its own venv ($(CHECKOV_VENV)), and terraform when it is not on PATH

VENV ?= .venv
TF ?= terraform
TF_DIR := infra/terraform
TF_ENVS := dev staging prod
TF_MODULES := $(sort $(dir $(wildcard $(TF_DIR)/modules/*/main.tf)))
TF_VIEWS_DIR ?= build/views/bigquery
TF_SCHEDULE_DIR ?= build/schedule
SCHEDULE ?= 1
SCHEDULE_PROFILE ?= small
ENV ?= dev
CHECKOV_VENV ?= .venv-checkov
CHECKOV_SPEC ?= checkov>=3.2,<4
CHECKOV_FLAGS ?= --framework terraform --external-checks-dir $(TF_DIR)/checks --skip-download --compact --quiet

# The terraform binary: $(TF) when it runs (on PATH or a path), otherwise one built from the Go
# module proxy into $(TF_TOOLS_BIN) (git-ignored). v1.8.5 is the newest release `go install` can
# build: from 1.9 terraform's go.mod has replace directives, which `go install pkg@version` refuses.
TF_GO_MODULE ?= github.com/hashicorp/terraform
TF_GO_VERSION ?= v1.8.5
TF_TOOLS_BIN ?= $(abspath $(TF_DIR)/.tools/bin)
TF_FOUND := $(shell command -v $(TF) 2>/dev/null)
TERRAFORM := $(if $(TF_FOUND),$(TF_FOUND),$(TF_TOOLS_BIN)/terraform)
TF_BUILD := $(if $(TF_FOUND),,$(TF_TOOLS_BIN)/terraform)
# One data folder per environment: init -reconfigure for one env never touches another's backend.
TF_RUN = TF_DATA_DIR=$(abspath $(TF_DIR)/.terraform/$(ENV)) $(TERRAFORM) -chdir=$(TF_DIR)
TF_VARS = -var-file=envs/$(ENV).tfvars -var 'views_dir=$(abspath $(TF_VIEWS_DIR))' \
          -var 'pipeline_batch_file=$(abspath $(TF_SCHEDULE_DIR))/$(ENV).json'

.PHONY: tf-tools tf-fmt tf-readme tf-check tf-checkov tf-validate tf-views tf-schedule tf-schedule-stage tf-plan tf-apply tf-bootstrap tf-env-guard

$(CHECKOV_VENV)/bin/checkov:
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet "$(CHECKOV_SPEC)"

$(TF_TOOLS_BIN)/terraform:
	@command -v go >/dev/null 2>&1 || { echo "terraform not found ('$(TF)') and no Go toolchain to build it: install terraform or Go" >&2; exit 1; }
	@echo "terraform not found ('$(TF)'): building $(TF_GO_MODULE)@$(TF_GO_VERSION) from the Go module proxy into $(TF_TOOLS_BIN) (the first time takes several minutes)"
	GOBIN=$(TF_TOOLS_BIN) go install -ldflags "-s -w -X $(TF_GO_MODULE)/version.dev=no" $(TF_GO_MODULE)@$(TF_GO_VERSION)

tf-tools: $(CHECKOV_VENV)/bin/checkov $(TF_BUILD)

tf-readme:
	$(VENV)/bin/python $(TF_DIR)/gen_readme.py

tf-fmt: tf-readme $(TF_BUILD)
	$(TERRAFORM) fmt -recursive $(TF_DIR)

tf-checkov: tf-tools
	$(CHECKOV_VENV)/bin/checkov -d $(TF_DIR) $(CHECKOV_FLAGS)

tf-check: tf-tools
	$(TERRAFORM) fmt -check -recursive -diff $(TF_DIR)
	$(VENV)/bin/python $(TF_DIR)/gen_readme.py --check
	$(CHECKOV_VENV)/bin/checkov -d $(TF_DIR) $(CHECKOV_FLAGS)
	TERRAFORM=$(TERRAFORM) $(VENV)/bin/python -m pytest tests/test_terraform.py -q

tf-validate: $(TF_BUILD)
	@set -e; for dir in $(TF_DIR) $(TF_MODULES); do \
	  echo "== $$dir"; \
	  TF_DATA_DIR=$(abspath $(TF_DIR)/.terraform/validate)/$$(basename $$dir) $(TERRAFORM) -chdir=$$dir init -backend=false -input=false -no-color >/dev/null; \
	  TF_DATA_DIR=$(abspath $(TF_DIR)/.terraform/validate)/$$(basename $$dir) $(TERRAFORM) -chdir=$$dir validate -no-color; \
	done

tf-env-guard:
	@case " $(TF_ENVS) " in *" $(ENV) "*) ;; *) echo "ENV must be one of: $(TF_ENVS) (got '$(ENV)')" >&2; exit 2;; esac

# The client views' BigQuery SQL, read by the bigquery module (see its README for the format).
tf-views:
	$(VENV)/bin/lakehouse views export --dialect bigquery --out $(TF_VIEWS_DIR)

# The scheduler job exists only when $(TF_SCHEDULE_DIR)/$(ENV).json does (see modules/schedule): the
# pipeline's batch without a run id, its code under the staging bucket's releases/ (never expires).
# A plan only writes the body; an apply first uploads the release it names (needs credentials).
tf-schedule: tf-env-guard
	$(if $(filter 1,$(SCHEDULE)),$(VENV)/bin/lakehouse schedule render --env $(ENV) --profile $(SCHEDULE_PROFILE) --out $(TF_SCHEDULE_DIR)/$(ENV).json,@echo "SCHEDULE=$(SCHEDULE): $(TF_SCHEDULE_DIR)/$(ENV).json left as it is")

tf-schedule-stage: tf-env-guard
	$(if $(filter 1,$(SCHEDULE)),$(VENV)/bin/lakehouse schedule render --env $(ENV) --profile $(SCHEDULE_PROFILE) --out $(TF_SCHEDULE_DIR)/$(ENV).json --stage,@echo "SCHEDULE=$(SCHEDULE): $(TF_SCHEDULE_DIR)/$(ENV).json left as it is")

tf-plan: tf-env-guard tf-views tf-schedule $(TF_BUILD)
	$(TF_RUN) init -input=false -reconfigure -backend-config=envs/$(ENV).backend.hcl
	$(TF_RUN) plan -input=false $(TF_VARS)

tf-apply: tf-env-guard tf-views tf-schedule-stage $(TF_BUILD)
	$(TF_RUN) init -input=false -reconfigure -backend-config=envs/$(ENV).backend.hcl
	$(TF_RUN) apply $(TF_VARS)

# One-time: the versioned, private bucket holding the env's Terraform state (name from its backend.hcl).
tf-bootstrap: tf-env-guard
	@bucket=$$(sed -n 's/^bucket *= *"\(.*\)"/\1/p' $(TF_DIR)/envs/$(ENV).backend.hcl); \
	project=$$(sed -n 's/^project_id *= *"\(.*\)"/\1/p' $(TF_DIR)/envs/$(ENV).tfvars); \
	region=$$(sed -n 's/^region *= *"\(.*\)"/\1/p' $(TF_DIR)/envs/$(ENV).tfvars); \
	echo "creating gs://$$bucket in $$project ($$region)"; \
	gcloud storage buckets create "gs://$$bucket" --project="$$project" --location="$$region" \
	  --uniform-bucket-level-access --public-access-prevention; \
	gcloud storage buckets update "gs://$$bucket" --versioning
