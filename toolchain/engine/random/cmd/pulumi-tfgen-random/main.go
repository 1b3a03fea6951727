// Command pulumi-tfgen-random generates the Pulumi schema of govcloud's random provider.
package main

import (
	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	random "govcloud.internal/engine/random"
)

func main() {
	pftfgen.Main("random", random.Provider())
}
