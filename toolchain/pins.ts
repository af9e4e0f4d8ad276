// What Stepform builds and accepts. The Go wrapper modules under go/ hold the same versions
// (a unit test keeps the two in step), with go.sum pinning every module by checksum.

/**
 * OpenTofu 1.12.6: the newest release the Go module proxy serves here, and it builds with
 * the machine's Go 1.26 toolchain. Built only when no acceptable tofu/terraform is on PATH.
 */
export const OPENTOFU_VERSION = '1.12.6';
export const OPENTOFU_PACKAGE = 'github.com/opentofu/opentofu/cmd/tofu';

/**
 * OPA 1.22.4, the policy engine (README: why OPA and not conftest). Built by set-up with the
 * provider toolchain below, so its SHA-256 is the same on every machine (go/opa/opa.sha256).
 */
export const OPA_VERSION = '1.22.4';
export const OPA_PACKAGE = 'github.com/open-policy-agent/opa';

/**
 * Providers and OPA are built with exactly this Go toolchain (GOTOOLCHAIN), -trimpath and CGO
 * off, so each binary, and the hash committed for it (the h1: in the lock files, OPA's
 * go/opa/opa.sha256), is the same on every machine.
 */
export const PROVIDER_GO_TOOLCHAIN = 'go1.26.8';

export interface ProviderPin {
  readonly namespace: string;
  readonly type: string;
  readonly version: string;
  /** The Go main package of the provider, required by go/providers/go.mod. */
  readonly goPackage: string;
}

/** hashicorp/time: a real provider that needs no cloud account and no network. */
export const PROVIDERS: readonly ProviderPin[] = [
  {
    namespace: 'hashicorp',
    type: 'time',
    version: '0.14.2',
    goPackage: 'github.com/hashicorp/terraform-provider-time',
  },
];

/** `hashicorp/time` resolves to a different hostname in OpenTofu and in Terraform. */
export const MIRROR_HOSTNAMES = ['registry.opentofu.org', 'registry.terraform.io'] as const;

/**
 * Oldest versions accepted from PATH: the executor relies on `terraform_data` and on
 * `importing` in plan JSON (Terraform 1.5); OpenTofu has both since its first release.
 */
export const MINIMUM_VERSIONS = { opentofu: '1.6.0', terraform: '1.5.0' } as const;
