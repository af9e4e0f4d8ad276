variable "zone" {
  description = "Set only by envs/<env>.tfvars: no default."
  type        = string
}

# Calls no module: a change to modules/labels does not affect it.
resource "terraform_data" "zone" {
  input = var.zone
}

output "zone" {
  value = var.zone
}
