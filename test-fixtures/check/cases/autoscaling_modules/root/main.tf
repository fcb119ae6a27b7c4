terraform {
  backend "s3" {
    bucket       = "acme-tfstate"
    key          = "web/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}

# Fixed-size here: no policy in this module scales it.
resource "aws_autoscaling_group" "web" {
  name             = "web"
  min_size         = 2
  max_size         = 6
  desired_capacity = 3
}

variable "external_group_name" {
  type = string
}

# Policies for a group called "web" in another account: the literal name is not this group.
module "policies" {
  source     = "../modules/policies"
  group_name = var.external_group_name
}

# A module that holds both a group and its policy.
module "scaled" {
  source = "../modules/scaled"
}
