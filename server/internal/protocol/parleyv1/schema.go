package parleyv1

import "embed"

// Schemas holds the protocol's JSON Schemas (draft 2020-12):
// schema/client/<type>.json for client messages and
// schema/server/<type>.json for server events.
//
//go:embed schema
var Schemas embed.FS
