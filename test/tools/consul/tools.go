//go:build tools

// Package tools pins the Consul main package as a dependency of this module;
// the build tag keeps it out of every build.
package tools

import _ "github.com/hashicorp/consul"
