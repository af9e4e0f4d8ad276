variable "environment" {
  type = string
}

variable "cidr" {
  description = "Set only by envs/<env>.tfvars: no default."
  type        = string
}

module "labels" {
  source      = "../../modules/labels"
  name        = "network"
  environment = var.environment
}

resource "terraform_data" "network" {
  input = {
    cidr = var.cidr
    tags = module.labels.tags
  }
}

output "cidr" {
  value = var.cidr
}
