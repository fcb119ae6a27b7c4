terraform {
  backend "s3" {
    bucket       = "acme-tfstate"
    key          = "web/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}

# The health endpoint is being built (JIRA-123); `/` is all this service has today.
# zdd:ignore ZDD020 legacy service, health endpoint lands in JIRA-123
resource "aws_lb_target_group" "legacy" {
  name                 = "legacy"
  port                 = 80
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  deregistration_delay = 30
}

# zdd:ignore ZDD021
resource "aws_lb_target_group" "batch" {
  name                 = "batch"
  port                 = 80
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  deregistration_delay = 0

  health_check {
    path    = "/healthz"
    matcher = "200"
  }
}

# zdd:ignore ZDD020 misplaced: a blank line separates it from the block

resource "aws_lb_target_group" "orphan" {
  name                 = "orphan"
  port                 = 80
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path    = "/healthz"
    matcher = "200"
  }
}
