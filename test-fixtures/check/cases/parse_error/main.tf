terraform {
  backend "s3" {
    bucket = "acme-tfstate"
  }
}

resource "aws_lb_target_group" "web" {
  name = "web"
  port = = 80
}
