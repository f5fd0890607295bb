# State of the prod environment, in a bucket made once by `make tf-bootstrap ENV=prod`.
bucket = "lakehouse-prod-tfstate"
prefix = "terraform/lakehouse"
