// Package pluginconfig decodes and checks a plugin's settings (the JSON
// object Parley passes to Configure) the same way in every plugin: strict
// decoding with errors that name the offending field, durations written as
// Go duration strings, base URLs, and API keys read from the environment
// variable the settings name (secrets never appear in settings).
//
// Every error is an InvalidArgument *sdk.Error made by sdk.InvalidField,
// so the host can point the operator at the field to fix.
package pluginconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
)

// FieldSettings is the field name used for errors about the settings
// object as a whole (not JSON, trailing data).
const FieldSettings = "settings"

// Decode decodes a JSON object into dst (a pointer to a struct holding the
// defaults), rejecting unknown fields, trailing data and type mismatches
// with errors that name the field ("voice_settings.speed" for nested
// ones). Empty input and null leave dst unchanged.
func Decode(data json.RawMessage, dst any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return sdk.InvalidField(FieldSettings, "trailing data after the JSON object")
	}
	return nil
}

// decodeError turns a json decoding error into an InvalidArgument error
// naming the offending field when it can be found.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		var e *sdk.Error
		if typeErr.Type == reflect.TypeFor[Duration]() {
			e = sdk.InvalidField(typeErr.Field, "must be a duration such as \"30s\", got %s", typeErr.Value)
		} else {
			e = sdk.InvalidField(typeErr.Field, "must be a JSON %s, got %s", typeErr.Type.Kind(), typeErr.Value)
		}
		e.Err = err
		return e
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, uerr := strconv.Unquote(name); uerr == nil {
			name = unq
		}
		e := sdk.InvalidField(name, "unknown setting")
		if name == "" {
			e = sdk.InvalidField(FieldSettings, "unknown setting with an empty name")
		}
		e.Err = err
		return e
	}
	e := sdk.InvalidField(FieldSettings, "not a valid JSON object: %s", err.Error())
	e.Err = fmt.Errorf("decode settings: %w", err)
	return e
}

// Duration is a time.Duration written in settings as a Go duration string
// ("750ms", "1m30s"). A number or a malformed string fails Decode with an
// error naming the field.
type Duration time.Duration

// UnmarshalJSON parses a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(v)
	return nil
}

// ParseURL checks that raw (surrounding white space ignored) is an
// absolute URL with a host and one of schemes ("http" and "https" when
// none are given), and returns it parsed. field names the setting in the
// error.
func ParseURL(field, raw string, schemes ...string) (*url.URL, error) {
	if len(schemes) == 0 {
		schemes = []string{"http", "https"}
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || !hasScheme(u, schemes) {
		return nil, sdk.InvalidField(field, "must be an absolute %s URL, got %q", strings.Join(schemes, " or "), raw)
	}
	return u, nil
}

func hasScheme(u *url.URL, schemes []string) bool {
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			return true
		}
	}
	return false
}

// APIKey reads an API key from the environment variable envName through
// getenv (os.Getenv in production, a map in tests), trimming white space.
// It fails when envName is blank, or when the key is empty and required;
// field names the setting holding envName (usually "api_key_env").
func APIKey(getenv func(string) string, field, envName string, required bool) (string, error) {
	envName = strings.TrimSpace(envName)
	if envName == "" {
		return "", sdk.InvalidField(field, "must name an environment variable")
	}
	key := strings.TrimSpace(getenv(envName))
	if key == "" && required {
		return "", sdk.InvalidField(field, "environment variable %s is empty or unset; list it in the plugin instance's env", envName)
	}
	return key, nil
}
