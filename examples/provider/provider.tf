terraform {
  required_providers {
    zdd = {
      source = "zdd/zdd"
    }
  }
}

provider "zdd" {
  region = "us-east-1"
}
