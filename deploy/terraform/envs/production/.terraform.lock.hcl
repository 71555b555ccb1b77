# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.
#
# The version below is the pinned one. The checksums are not in this file yet: no Terraform binary or
# registry is reachable where it was written. Before the first `terraform init`, run (docs/infrastructure.md)
#   terraform providers lock -platform=linux_amd64 -platform=darwin_arm64
# and commit the result; from then on `terraform init` verifies the provider against them.

provider "registry.terraform.io/hashicorp/google" {
  version     = "7.40.0"
  constraints = "~> 7.40"
}
