// Package deployconfig reads the settings every function shares from its
// environment, as template.yaml sets them (or the local stack, from the same
// template).
package deployconfig

import (
	"errors"
	"fmt"

	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/authz"
)

// Config is a function's shared configuration.
type Config struct {
	KeysTable  string
	OrgsTable  string
	AuditTable string
	KeyEnv     apikey.Env
	Catalog    *authz.Catalog
}

// Load reads KEYS_TABLE, ORGS_TABLE, AUDIT_TABLE, KEY_ENVIRONMENT and the
// scope catalog (AUTHZ_CONFIG_FILE or the built-in one) through getenv.
func Load(getenv func(string) string) (Config, error) {
	env, err := apikey.ParseEnv(getenv("KEY_ENVIRONMENT"))
	if err != nil {
		return Config{}, fmt.Errorf("KEY_ENVIRONMENT: %w", err)
	}
	catalog, err := authz.LoadFile(getenv("AUTHZ_CONFIG_FILE"))
	if err != nil {
		return Config{}, err
	}
	c := Config{
		KeysTable:  getenv("KEYS_TABLE"),
		OrgsTable:  getenv("ORGS_TABLE"),
		AuditTable: getenv("AUDIT_TABLE"),
		KeyEnv:     env,
		Catalog:    catalog,
	}
	if c.KeysTable == "" || c.OrgsTable == "" {
		return Config{}, errors.New("KEYS_TABLE and ORGS_TABLE must be set")
	}
	return c, nil
}
