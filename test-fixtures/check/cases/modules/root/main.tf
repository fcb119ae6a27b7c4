terraform {
  backend "s3" {
    bucket       = "acme-tfstate"
    key          = "web/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}

module "web" {
  source = "../modules/asg"
  name   = "web"
}

module "web_again" {
  source = "./../modules/asg"
  name   = "web-again"
}

module "registry" {
  source  = "terraform-aws-modules/autoscaling/aws"
  version = "~> 8.0"
}
