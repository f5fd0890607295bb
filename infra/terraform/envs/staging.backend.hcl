# State of the staging environment, in a bucket made once by `make tf-bootstrap ENV=staging`.
bucket = "lakehouse-staging-tfstate"
prefix = "terraform/lakehouse"
