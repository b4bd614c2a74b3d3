package config

import (
	"fmt"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"
)

// Redacted is what secrets are printed as.
const Redacted = "[redacted]"

// secretFields are the dotted keys (slice indices dropped) whose values are
// secret.
func secretFields() map[string]bool {
	return map[string]bool{
		"auth.api_keys":                 true,
		"auth.admin_keys":               true,
		"redis.password":                true,
		"webrtc.ice_servers.credential": true,
	}
}

// YAML renders the effective configuration with secrets redacted, plus
// which provider secrets are set (never their values).
func (c *Config) YAML() ([]byte, error) {
	secret := secretFields()
	m, _ := toPlain(reflect.ValueOf(*c), "", secret).(map[string]any)
	m["secrets"] = map[string]any{
		EnvAnthropicKey:  isSet(c.Secrets.AnthropicAPIKey),
		EnvElevenLabsKey: isSet(c.Secrets.ElevenLabsAPIKey),
		EnvOpenAIKey:     isSet(c.Secrets.OpenAIAPIKey),
		EnvDeepgramKey:   isSet(c.Secrets.DeepgramAPIKey),
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("config: render: %w", err)
	}
	return b, nil
}

func isSet(s string) string {
	if s == "" {
		return "unset"
	}
	return "set"
}

// toPlain turns a config value into maps, slices and scalars keyed by the
// koanf tags, durations as strings, secrets redacted.
func toPlain(v reflect.Value, key string, secret map[string]bool) any {
	if secret[key] {
		if v.Kind() == reflect.Slice {
			out := make([]any, v.Len())
			for i := range out {
				out[i] = Redacted
			}
			return out
		}
		if v.IsZero() {
			return ""
		}
		return Redacted
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		for i := range v.NumField() {
			tag := v.Type().Field(i).Tag.Get(tagName)
			if tag == "" || tag == "-" {
				continue
			}
			out[tag] = toPlain(v.Field(i), join(key, tag), secret)
		}
		return out
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toPlain(v.Index(i), key, secret)
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[fmt.Sprint(k.Interface())] = toPlain(v.MapIndex(k), join(key, fmt.Sprint(k.Interface())), secret)
		}
		return out
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return toPlain(v.Elem(), key, secret)
	case reflect.String:
		return v.String()
	default:
		return v.Interface()
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + keyDelim + key
}
