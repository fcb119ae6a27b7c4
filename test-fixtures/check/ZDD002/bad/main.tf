terraform {
  backend "s3" {
    bucket         = "acme-tfstate"
    key            = "web/terraform.tfstate"
    region         = "us-east-1"
    dynamodb_table = "terraform-locks"
  }
}

resource "terraform_data" "marker" {}
