// Command pulumi-tfgen-openstack generates the Pulumi schema of govcloud's openstack provider.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	openstack "govcloud.internal/engine/openstack"
)

func main() {
	tfgen.Main("openstack", openstack.Version, openstack.Provider())
}
