# Maintained by `npm run providers:lock` (toolchain/lock-providers.ts): the h1: hashes of the
# providers as Stepform builds them from source, for OpenTofu's and Terraform's registry names.

provider "registry.opentofu.org/hashicorp/time" {
  version     = "0.14.2"
  constraints = "0.14.2"
  hashes = [
    "h1:/TGWcjr6ealsySftBLKaLwb089DtyW8wVm4dprynInk=",
    "h1:9bOAnZXe+dHF0l5t+vaMyfJ3H/tIex60SQPpxFfRjBU=",
    "h1:OnArO2foFi16KeVlZjRzTSOZV7ae0DcKk1TxmRedLAQ=",
    "h1:dXHB80+wj+esRVovNwWtz3EU5nT5a4AQhxzxqc+H6iI=",
  ]
}

provider "registry.terraform.io/hashicorp/time" {
  version     = "0.14.2"
  constraints = "0.14.2"
  hashes = [
    "h1:/TGWcjr6ealsySftBLKaLwb089DtyW8wVm4dprynInk=",
    "h1:9bOAnZXe+dHF0l5t+vaMyfJ3H/tIex60SQPpxFfRjBU=",
    "h1:OnArO2foFi16KeVlZjRzTSOZV7ae0DcKk1TxmRedLAQ=",
    "h1:dXHB80+wj+esRVovNwWtz3EU5nT5a4AQhxzxqc+H6iI=",
  ]
}
