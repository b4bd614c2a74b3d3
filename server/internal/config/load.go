package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/dotenv"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// Environment variable conventions.
const (
	// EnvPrefix prefixes every Parley setting in the environment.
	EnvPrefix = "PARLEY_"
	// EnvNesting separates nesting levels in variable names:
	// PARLEY_HTTP__ADDR is http.addr.
	EnvNesting = "__"
	// DefaultPath is the YAML file used when none is given.
	DefaultPath = "configs/parley.yaml"
	// DefaultDotEnv is the optional .env file in the working directory.
	DefaultDotEnv = ".env"
	keyDelim      = "."
	tagName       = "koanf"
)

// Conventional provider secret names, read from .env and the environment.
const (
	EnvAnthropicKey  = "ANTHROPIC_API_KEY"
	EnvElevenLabsKey = "ELEVENLABS_API_KEY"
	EnvOpenAIKey     = "OPENAI_API_KEY"
	EnvDeepgramKey   = "DEEPGRAM_API_KEY"
)

// Options says where Load finds its layers. Zero values mean: no YAML
// file, DefaultDotEnv, and the process environment.
type Options struct {
	// Paths are the YAML files, lowest first (see MergeRule). Empty means
	// no file.
	Paths []string
	// DotEnvPath is the .env file; a missing file is not an error.
	DotEnvPath string
	// Environ returns KEY=VALUE pairs; nil means os.Environ.
	Environ func() []string
}

// MergeRule is how several YAML files combine (documented in
// configs/README.md): later files override earlier ones key by key;
// plugins.instances are merged by name (an instance of an earlier file is
// overridden key by key by the later file's instance of the same name, new
// names are appended in order); lists everywhere else — the pipeline
// chains among them — are replaced as a whole.
const MergeRule = "later files override earlier ones key by key; plugins.instances merge by name; other lists (pipeline chains) are replaced whole"

// instancesKey is the list merged by name.
const instancesKey = "plugins.instances"

// Load reads the YAML files at paths (DefaultPath when none), lowest
// first, over the code defaults, then .env in the working directory, then
// the environment, and validates the result.
func Load(paths ...string) (*Config, error) {
	if len(paths) == 0 {
		paths = []string{DefaultPath}
	}
	return LoadWith(Options{Paths: paths, DotEnvPath: DefaultDotEnv})
}

// LoadWith is Load with explicit sources, for tests and tools.
func LoadWith(o Options) (*Config, error) {
	environ := o.Environ
	if environ == nil {
		environ = os.Environ
	}
	dotEnv, err := readDotEnv(o.DotEnvPath)
	if err != nil {
		return nil, err
	}
	vars := mergeEnv(dotEnv, environ())

	k := koanf.New(keyDelim)
	for _, path := range o.Paths {
		if err := mergeFile(k, path); err != nil {
			return nil, err
		}
	}
	for _, layer := range []struct {
		name string
		vars map[string]string
	}{{".env", onlyPrefixed(dotEnv)}, {"environment", onlyPrefixed(environMap(environ()))}} {
		lk := koanf.New(keyDelim)
		if err := lk.Load(env.Provider(keyDelim, env.Opt{
			Prefix:        EnvPrefix,
			TransformFunc: envKey,
			EnvironFunc:   func() []string { return pairs(layer.vars) },
		}), nil); err != nil {
			return nil, fmt.Errorf("config %s: %w", layer.name, err)
		}
		if err := checkKeys(lk, "from "+layer.name+" ("+EnvPrefix+"…)"); err != nil {
			return nil, err
		}
		if err := k.Merge(lk); err != nil {
			return nil, fmt.Errorf("config %s: %w", layer.name, err)
		}
	}

	cfg := Default()
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
		Result:           &cfg,
		TagName:          tagName,
	}}); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	resolveEnv(&cfg, vars)
	if cfg.Cluster.NodeID == "" {
		// The pod or machine name: unique per node in the usual deploys.
		cfg.Cluster.NodeID, _ = os.Hostname()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// mergeFile merges one YAML file into k by MergeRule.
func mergeFile(k *koanf.Koanf, path string) error {
	fk := koanf.New(keyDelim)
	if err := fk.Load(file.Provider(path), yaml.Parser()); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if err := checkKeys(fk, "in "+path); err != nil {
		return err
	}
	if fk.Exists(instancesKey) && k.Exists(instancesKey) {
		merged, err := mergeByName(k.Get(instancesKey), fk.Get(instancesKey))
		if err != nil {
			return fmt.Errorf("config %s: %s: %w", path, instancesKey, err)
		}
		if err := fk.Set(instancesKey, merged); err != nil {
			return fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := k.Merge(fk); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// ErrInstanceName is returned for a plugin instance without a name.
var ErrInstanceName = errors.New("every plugin instance needs a name")

// mergeByName merges two lists of plugin instances by their name.
func mergeByName(base, over any) ([]any, error) {
	b, okB := base.([]any)
	o, okO := over.([]any)
	if !okB || !okO {
		return nil, errors.New("must be a list of instances")
	}
	out := make([]any, 0, len(b)+len(o))
	index := map[string]int{}
	for _, list := range [][]any{b, o} {
		for _, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, errors.New("must be a list of instances")
			}
			name, _ := m["name"].(string)
			if name == "" {
				return nil, ErrInstanceName
			}
			if i, seen := index[name]; seen {
				out[i] = mergeMaps(out[i].(map[string]any), m)
				continue
			}
			index[name] = len(out)
			out = append(out, m)
		}
	}
	return out, nil
}

// mergeMaps returns over merged onto base key by key (maps recursively,
// everything else replaced).
func mergeMaps(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = mergeMaps(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// envKey maps PARLEY_HTTP__READ_TIMEOUT to http.read_timeout.
func envKey(k, v string) (string, any) {
	k = strings.TrimPrefix(k, EnvPrefix)
	return strings.ToLower(strings.ReplaceAll(k, EnvNesting, keyDelim)), v
}

func readDotEnv(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	m, err := dotenv.Parser().Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out, nil
}

func environMap(kv []string) map[string]string {
	m := make(map[string]string, len(kv))
	for _, p := range kv {
		if k, v, ok := strings.Cut(p, "="); ok {
			m[k] = v
		}
	}
	return m
}

// mergeEnv overlays the process environment on .env.
func mergeEnv(dotEnv map[string]string, environ []string) map[string]string {
	m := make(map[string]string, len(dotEnv)+len(environ))
	for k, v := range dotEnv {
		m[k] = v
	}
	for k, v := range environMap(environ) {
		m[k] = v
	}
	return m
}

func onlyPrefixed(m map[string]string) map[string]string {
	out := make(map[string]string)
	for k, v := range m {
		if strings.HasPrefix(k, EnvPrefix) && k != EnvTokenSecret && k != EnvClusterSecret {
			out[k] = v
		}
	}
	return out
}

func pairs(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// resolveEnv fills values that come from variables named in the config and
// the conventional provider secrets.
func resolveEnv(cfg *Config, vars map[string]string) {
	cfg.Secrets = Secrets{
		AnthropicAPIKey:  vars[EnvAnthropicKey],
		ElevenLabsAPIKey: vars[EnvElevenLabsKey],
		OpenAIAPIKey:     vars[EnvOpenAIKey],
		DeepgramAPIKey:   vars[EnvDeepgramKey],
	}
	for i := range cfg.Plugins.Instances {
		in := &cfg.Plugins.Instances[i]
		in.EnvValues = lookupNames(in.Env, vars)
	}
	if name := cfg.Auth.Tokens.SecretEnv; name != "" {
		cfg.Auth.Tokens.Keys, cfg.tokenKeyErr = parseTokenKeys(vars[name])
	}
	for i := range cfg.WebRTC.ICEServers {
		if s := &cfg.WebRTC.ICEServers[i]; s.SecretEnv != "" {
			s.Secret = []byte(vars[s.SecretEnv])
		}
	}
	if name := cfg.Cluster.SecretEnv; name != "" {
		cfg.Cluster.Secret = []byte(vars[name])
	}
	if name := cfg.Telephony.Twilio.AuthTokenEnv; name != "" {
		cfg.Telephony.Twilio.AuthToken = vars[name]
	}
	for i := range cfg.Tools.MCP {
		m := &cfg.Tools.MCP[i]
		m.HeaderValues = lookupHeaders(m.HeadersEnv, vars)
		m.EnvValues = lookupNames(m.Env, vars)
	}
	for i := range cfg.Tools.Webhooks {
		w := &cfg.Tools.Webhooks[i]
		w.HeaderValues = lookupHeaders(w.HeadersEnv, vars)
	}
	resolveTracing(&cfg.Telemetry.Tracing, vars)
}

// lookupNames returns the values of the variables names that are set.
func lookupNames(names []string, vars map[string]string) map[string]string {
	out := make(map[string]string, len(names))
	for _, name := range names {
		if v, ok := vars[name]; ok {
			out[name] = v
		}
	}
	return out
}

// lookupHeaders returns header → value for each header whose variable
// (headersEnv: header → variable name) is set.
func lookupHeaders(headersEnv, vars map[string]string) map[string]string {
	out := make(map[string]string, len(headersEnv))
	for header, name := range headersEnv {
		if v, ok := vars[name]; ok {
			out[header] = v
		}
	}
	return out
}

// UnknownKeyError names a configuration key Parley does not know.
type UnknownKeyError struct {
	Key    string
	Source string
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("config: unknown key %q %s", e.Key, e.Source)
}

// checkKeys rejects keys of one layer that no struct field has.
func checkKeys(k *koanf.Koanf, source string) error {
	known, free := knownKeys(reflect.TypeFor[Config](), "")
	var errs []error
	for _, key := range k.Keys() {
		if known[key] || underFree(key, free) {
			continue
		}
		errs = append(errs, &UnknownKeyError{Key: key, Source: source})
	}
	return errors.Join(errs...)
}

func underFree(key string, free []string) bool {
	for _, f := range free {
		if strings.HasPrefix(key, f+keyDelim) || key == f {
			return true
		}
	}
	return false
}

// knownKeys lists the dotted keys of t's fields. Maps are free-form
// subtrees (plugin settings); slices are leaves checked when decoding.
func knownKeys(t reflect.Type, prefix string) (map[string]bool, []string) {
	known := map[string]bool{}
	var free []string
	for f := range t.Fields() {
		tag := f.Tag.Get(tagName)
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		ft := f.Type
		switch {
		case ft == reflect.TypeFor[time.Duration]():
			known[key] = true
		case ft.Kind() == reflect.Struct:
			k, fr := knownKeys(ft, key+keyDelim)
			for kk := range k {
				known[kk] = true
			}
			free = append(free, fr...)
		case ft.Kind() == reflect.Map:
			known[key] = true
			free = append(free, key)
		default:
			known[key] = true
		}
	}
	return known, free
}
