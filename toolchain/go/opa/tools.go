//go:build tools

// Package tools pins OPA's main package so that go.mod keeps its requirements.
package tools

import _ "github.com/open-policy-agent/opa"
