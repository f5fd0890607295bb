# Terraform targets, included from the root Makefile (`include infra/terraform/terraform.mk`).
#
#   make tf-fmt                  format the .tf files and regenerate the module README tables
#   make tf-check                offline checks: fmt -check, README tables, checkov, tests/test_terraform.py
#   make tf-validate             init -backend=false + validate every module and env (needs the registry)
#   make tf-plan ENV=dev         export the client views, init the env's GCS backend, plan
#   make tf-apply ENV=dev        same, then apply (asks for confirmation)
#   make tf-bootstrap ENV=dev    create the env's state bucket (once per environment, needs gcloud)
#   make tf-tools                checkov in its own venv ($(CHECKOV_VENV)), apart from the project's deps

VENV ?= .venv
TF ?= terraform
TF_DIR := infra/terraform
TF_ENVS := dev staging prod
TF_MODULES := $(sort $(dir $(wildcard $(TF_DIR)/modules/*/main.tf)))
TF_VIEWS_DIR ?= build/views/bigquery
ENV ?= dev
CHECKOV_VENV ?= .venv-checkov
CHECKOV_SPEC ?= checkov>=3.2,<4
CHECKOV_FLAGS ?= --framework terraform --external-checks-dir $(TF_DIR)/checks --skip-download --compact --quiet

.PHONY: tf-tools tf-fmt tf-readme tf-check tf-checkov tf-validate tf-views tf-plan tf-apply tf-bootstrap tf-env-guard

$(CHECKOV_VENV)/bin/checkov:
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet "$(CHECKOV_SPEC)"

tf-tools: $(CHECKOV_VENV)/bin/checkov

tf-readme:
	$(VENV)/bin/python $(TF_DIR)/gen_readme.py

tf-fmt: tf-readme
	$(TF) fmt -recursive $(TF_DIR)

tf-checkov: tf-tools
	$(CHECKOV_VENV)/bin/checkov -d $(TF_DIR) $(CHECKOV_FLAGS)

tf-check: tf-tools
	$(TF) fmt -check -recursive -diff $(TF_DIR)
	$(VENV)/bin/python $(TF_DIR)/gen_readme.py --check
	$(CHECKOV_VENV)/bin/checkov -d $(TF_DIR) $(CHECKOV_FLAGS)
	$(VENV)/bin/python -m pytest tests/test_terraform.py -q

tf-validate:
	@set -e; for dir in $(TF_MODULES) $(addprefix $(TF_DIR)/envs/,$(TF_ENVS)); do \
	  echo "== $$dir"; \
	  $(TF) -chdir=$$dir init -backend=false -input=false -no-color >/dev/null; \
	  $(TF) -chdir=$$dir validate -no-color; \
	done

tf-env-guard:
	@case " $(TF_ENVS) " in *" $(ENV) "*) ;; *) echo "ENV must be one of: $(TF_ENVS) (got '$(ENV)')" >&2; exit 2;; esac

# The client views' BigQuery SQL, read by the bigquery module (see its README for the format).
tf-views:
	$(VENV)/bin/lakehouse views export --dialect bigquery --out $(TF_VIEWS_DIR)

tf-plan: tf-env-guard tf-views
	$(TF) -chdir=$(TF_DIR)/envs/$(ENV) init -input=false -backend-config=backend.hcl
	$(TF) -chdir=$(TF_DIR)/envs/$(ENV) plan -input=false -var 'views_dir=$(abspath $(TF_VIEWS_DIR))'

tf-apply: tf-env-guard tf-views
	$(TF) -chdir=$(TF_DIR)/envs/$(ENV) init -input=false -backend-config=backend.hcl
	$(TF) -chdir=$(TF_DIR)/envs/$(ENV) apply -var 'views_dir=$(abspath $(TF_VIEWS_DIR))'

# One-time: the versioned, private bucket holding the env's Terraform state (name from backend.hcl).
tf-bootstrap: tf-env-guard
	@bucket=$$(sed -n 's/^bucket *= *"\(.*\)"/\1/p' $(TF_DIR)/envs/$(ENV)/backend.hcl); \
	project=$$(sed -n 's/^project_id *= *"\(.*\)"/\1/p' $(TF_DIR)/envs/$(ENV)/terraform.tfvars); \
	region=$$(sed -n 's/^region *= *"\(.*\)"/\1/p' $(TF_DIR)/envs/$(ENV)/terraform.tfvars); \
	echo "creating gs://$$bucket in $$project ($$region)"; \
	gcloud storage buckets create "gs://$$bucket" --project="$$project" --location="$$region" \
	  --uniform-bucket-level-access --public-access-prevention; \
	gcloud storage buckets update "gs://$$bucket" --versioning
