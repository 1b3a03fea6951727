// Package shim exposes the Terraform random provider, whose constructor lives in an
// internal package, to govcloud's bridged Pulumi provider. The module path of this
// directory sits under the upstream module path so that Go allows the internal import.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	upstream "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the upstream Terraform Plugin Framework provider.
func NewProvider() provider.Provider {
	return upstream.New()
}
