terraform {
  backend "s3" {
    bucket       = "acme-tfstate"
    key          = "web/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}

variable "external_group_name" {
  type = string
}

# Scaled by a policy of module.policies, which receives this group's name: reported.
resource "aws_autoscaling_group" "web" {
  name             = "web"
  min_size         = 2
  max_size         = 6
  desired_capacity = 3
}

# module.policies has a policy for a group literally called "batch", which may live in another
# account or region: a literal name is only matched within one module. Not reported.
resource "aws_autoscaling_group" "batch" {
  name             = "batch"
  min_size         = 1
  max_size         = 4
  desired_capacity = 1
}

module "policies" {
  source           = "../modules/policies"
  group_name       = aws_autoscaling_group.web.name
  other_group_name = var.external_group_name
}

# A module that holds both a group and its policy: reported there.
module "scaled" {
  source = "../modules/scaled"
}

# A module whose group is scaled and attached from here, through its output.
module "fleet" {
  source = "../modules/fleet"
}

resource "aws_autoscaling_policy" "fleet_cpu" {
  name                   = "fleet-cpu"
  autoscaling_group_name = module.fleet.group_name
  policy_type            = "TargetTrackingScaling"
}

resource "aws_autoscaling_attachment" "fleet" {
  autoscaling_group_name = module.fleet.group_name
  lb_target_group_arn    = var.fleet_target_group_arn
}
