package adminapi

import "github.com/flowella/apikeys/shared/keystore"

// HygieneFlags exposes the flags a key gets in responses, for tests.
func HygieneFlags(h *Handlers, k keystore.Key) []string { return hygieneFlags(k, h.now()) }

// CleanAllowedIPs exposes allow-list parsing, for tests.
var CleanAllowedIPs = cleanAllowedIPs
