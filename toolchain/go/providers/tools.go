//go:build tools

// Package tools pins the provider main packages so that go.mod keeps their requirements.
package tools

import _ "github.com/hashicorp/terraform-provider-time"
