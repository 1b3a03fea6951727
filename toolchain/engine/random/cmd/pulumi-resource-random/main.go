// Command pulumi-resource-random is govcloud's build of the Pulumi random resource plugin.
package main

import (
	"context"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	random "govcloud.internal/engine/random"
)

func main() {
	pftfbridge.Main(context.Background(), "random", random.Provider(),
		pftfbridge.ProviderMetadata{PackageSchema: random.Schema})
}
