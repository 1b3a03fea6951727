// Command pulumi-resource-openstack is govcloud's build of the Pulumi openstack resource plugin.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	openstack "govcloud.internal/engine/openstack"
)

func main() {
	tfbridge.Main("openstack", openstack.Version, openstack.Provider(), openstack.Schema)
}
