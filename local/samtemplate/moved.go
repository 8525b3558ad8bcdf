// Package samtemplate moved to shared/samtemplate: the template reader
// emulates nothing, and cmd/audit-replay, which runs against AWS, reads it.
// These aliases keep the local stack's packages building until their imports
// name the new path; then this package goes.
//
// Import github.com/flowella/apikeys/shared/samtemplate instead.
package samtemplate

import "github.com/flowella/apikeys/shared/samtemplate"

type (
	Template        = samtemplate.Template
	Resource        = samtemplate.Resource
	FunctionProps   = samtemplate.FunctionProps
	Event           = samtemplate.Event
	TableProps      = samtemplate.TableProps
	APIRoute        = samtemplate.APIRoute
	StreamMapping   = samtemplate.StreamMapping
	GatewayResponse = samtemplate.GatewayResponse
	LogSubscription = samtemplate.LogSubscription
)

// Load reads and parses a template file.
func Load(path string) (*Template, error) { return samtemplate.Load(path) }

// Parse parses template YAML.
func Parse(data []byte) (*Template, error) { return samtemplate.Parse(data) }
