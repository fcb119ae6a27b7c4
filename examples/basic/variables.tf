variable "region" {
  type    = string
  default = "us-east-1"
}

variable "aws_endpoint" {
  type        = string
  default     = ""
  description = "One endpoint URL for Auto Scaling, ELBv2, EC2 and CloudWatch (a local AWS such as http://127.0.0.1:5000); empty for AWS itself."
}

variable "name" {
  type        = string
  default     = "web"
  description = "Fleet name; Auto Scaling groups are named <name>-g<generation>."
}

variable "launch_template_id" {
  type = string
}

variable "launch_template_version" {
  type        = string
  description = "A pinned version number; $Latest and $Default are refused (rollback needs a fixed target)."

  validation {
    condition     = can(regex("^[0-9]+$", var.launch_template_version))
    error_message = "launch_template_version must be a version number such as \"7\"."
  }
}

variable "subnet_ids" {
  type = list(string)
}

variable "target_group_arns" {
  type        = list(string)
  description = "Target groups every generation is attached to (the listener forwards to them)."
}

variable "min_size" {
  type    = number
  default = 2
}

variable "max_size" {
  type    = number
  default = 4
}

variable "desired_capacity" {
  type    = number
  default = 2
}

variable "health_timeout" {
  type        = string
  default     = "10m"
  description = "How long new targets may take to become healthy in the load balancer before the rollout is rolled back."
}
