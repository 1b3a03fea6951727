//go:build tools

// Package cli pins the Pulumi CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) so that
// scripts/install-pulumi can build it from the Go module proxy. pkg/v3's own go.mod has a
// relative replace of sdk/v3 (=> ../sdk), which is why `go install ...@version` refuses it;
// this wrapper requires pkg/v3 and sdk/v3 at the same version instead and repeats pkg/v3's
// other replace directive (atotto/clipboard) in go.mod.
package cli

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
