// Package config embeds the default scope catalog, plans and route map
// (authz.json), so every function ships the same data; AUTHZ_CONFIG_FILE
// points a deployment at another file.
package config

import _ "embed"

// AuthzJSON is the default scope catalog, plans and route map.
//
//go:embed authz.json
var AuthzJSON []byte
