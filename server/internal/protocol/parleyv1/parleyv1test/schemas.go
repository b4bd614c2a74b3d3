// Package parleyv1test checks parley.v1 messages against the protocol's
// JSON Schemas, for the tests of the protocol and of every transport that
// speaks it.
package parleyv1test

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/protocol/parleyv1"
)

// Schemas are the compiled schemas by "client/<type>" and "server/<type>".
type Schemas map[string]*jsonschema.Schema

// Load compiles every schema of parleyv1.Schemas.
func Load(t testing.TB) Schemas {
	t.Helper()
	c := jsonschema.NewCompiler()
	out := Schemas{}
	for _, dir := range []string{"server", "client"} {
		files, err := fs.Glob(parleyv1.Schemas, path.Join("schema", dir, "*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			raw, err := fs.ReadFile(parleyv1.Schemas, f)
			require.NoError(t, err)
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			require.NoError(t, err, f)
			url := "mem:///" + f
			require.NoError(t, c.AddResource(url, doc))
			sch, err := c.Compile(url)
			require.NoError(t, err, f)
			out[dir+"/"+strings.TrimSuffix(path.Base(f), ".json")] = sch
		}
	}
	return out
}

// ValidateServer checks one server event against its schema.
func (s Schemas) ValidateServer(t testing.TB, data []byte) {
	t.Helper()
	require.NoError(t, s.CheckServer(data))
}

// CheckServer is ValidateServer for goroutines other than the test's:
// it returns what is wrong instead of failing the test.
func (s Schemas) CheckServer(data []byte) error {
	sch, inst, err := s.lookup("server", data)
	if err != nil {
		return err
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("event %s: %w", data, err)
	}
	return nil
}

// ValidateClient checks one client message against its schema and
// returns the schema's verdict (nil: valid).
func (s Schemas) ValidateClient(t testing.TB, data []byte) error {
	t.Helper()
	sch, inst, err := s.lookup("client", data)
	require.NoError(t, err)
	return sch.Validate(inst)
}

// lookup decodes a message and finds the schema of its type.
func (s Schemas) lookup(dir string, data []byte) (*jsonschema.Schema, any, error) {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("message is not JSON: %w", err)
	}
	obj, ok := inst.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("message is not an object: %s", data)
	}
	typ, _ := obj["type"].(string)
	sch, ok := s[dir+"/"+typ]
	if !ok {
		return nil, nil, fmt.Errorf("no schema for %s message %q", dir, typ)
	}
	return sch, inst, nil
}
