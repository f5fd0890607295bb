# State of the dev environment, in a bucket made once by `make tf-bootstrap ENV=dev`.
bucket = "lakehouse-dev-tfstate"
prefix = "terraform/lakehouse"
