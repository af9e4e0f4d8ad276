//go:build tools

// Package tools pins OpenTofu's main package so that go.mod keeps its requirements.
package tools

import _ "github.com/opentofu/opentofu/cmd/tofu"
