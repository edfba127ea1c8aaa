//go:build tools

// Package tools pins Helm's command (helm.sh/helm/v4/cmd/helm) as a dependency
// of this module, so go.sum fixes every module it is built from; the build tag
// keeps it out of every build.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
