package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// TestPrecedence proves defaults < yaml < .env < env for a string, an int
// and a duration key.
func TestPrecedence(t *testing.T) {
	const yamlBody = "http:\n  addr: 127.0.0.1:9001\n  drain_timeout: 3s\nsession:\n  max_sessions: 11\n"
	const dotEnvBody = "PARLEY_HTTP__ADDR=127.0.0.1:9002\nPARLEY_SESSION__MAX_SESSIONS=22\nPARLEY_HTTP__DRAIN_TIMEOUT=4s\n"
	envAll := []string{"PARLEY_HTTP__ADDR=127.0.0.1:9003", "PARLEY_SESSION__MAX_SESSIONS=33", "PARLEY_HTTP__DRAIN_TIMEOUT=5s"}
	def := Default()
	tests := []struct {
		name      string
		yaml      bool
		dotEnv    bool
		env       []string
		wantAddr  string
		wantMax   int
		wantDrain time.Duration
	}{
		{"defaults only", false, false, nil, def.HTTP.Addr, def.Session.MaxSessions, def.HTTP.DrainTimeout},
		{"yaml over defaults", true, false, nil, "127.0.0.1:9001", 11, 3 * time.Second},
		{".env over yaml", true, true, nil, "127.0.0.1:9002", 22, 4 * time.Second},
		{"env over .env", true, true, envAll, "127.0.0.1:9003", 33, 5 * time.Second},
		{"env over yaml for one key only", true, false, envAll[1:2], "127.0.0.1:9001", 33, 3 * time.Second},
		{".env over defaults without yaml", false, true, nil, "127.0.0.1:9002", 22, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Environ: func() []string { return tt.env }, DotEnvPath: filepath.Join(dir, "missing.env")}
			if tt.yaml {
				o.Paths = []string{writeFile(t, dir, "parley.yaml", yamlBody)}
			}
			if tt.dotEnv {
				o.DotEnvPath = writeFile(t, dir, ".env", dotEnvBody)
			}
			cfg, err := LoadWith(o)
			require.NoError(t, err)
			assert.Equal(t, tt.wantAddr, cfg.HTTP.Addr)
			assert.Equal(t, tt.wantMax, cfg.Session.MaxSessions)
			assert.Equal(t, tt.wantDrain, cfg.HTTP.DrainTimeout)
		})
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     []string
		wantKey string
	}{
		{"yaml top level", "htttp:\n  addr: :1\n", nil, "htttp.addr"},
		{"yaml nested", "http:\n  adrr: :1\n", nil, "http.adrr"},
		{"env nested", "", []string{"PARLEY_HTTP__ADRR=:1"}, "http.adrr"},
		{"env top level", "", []string{"PARLEY_NOPE=1"}, "nope"},
		{"yaml inside a list", "plugins:\n  instances:\n    - name: a\n      kind: stt\n      path: /x\n      pth: /y\n", nil, "pth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Environ: func() []string { return tt.env }}
			if tt.yaml != "" {
				o.Paths = []string{writeFile(t, dir, "parley.yaml", tt.yaml)}
			}
			_, err := LoadWith(o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantKey)
		})
	}
}

func TestUnknownKeyErrorType(t *testing.T) {
	_, err := LoadWith(Options{Environ: func() []string { return []string{"PARLEY_LOG__LEVL=debug"} }})
	var uk *UnknownKeyError
	require.True(t, errors.As(err, &uk), "got %v", err)
	assert.Equal(t, "log.levl", uk.Key)
}

func TestPluginConfigIsFreeForm(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "parley.yaml", `
plugins:
  instances:
    - name: llm-rules
      kind: llm
      path: ./bin/plugins/llm-rules
      env: [ANTHROPIC_API_KEY]
      config:
        rules_file: x.yaml
        nested: {any: thing}
pipeline:
  llm: [llm-rules]
`)
	cfg, err := LoadWith(Options{Paths: []string{p}, Environ: func() []string { return []string{"ANTHROPIC_API_KEY=sk-test", "OTHER=1"} }})
	require.NoError(t, err)
	require.Len(t, cfg.Plugins.Instances, 1)
	in := cfg.Plugins.Instances[0]
	assert.Equal(t, "x.yaml", in.Config["rules_file"])
	assert.Equal(t, map[string]string{"ANTHROPIC_API_KEY": "sk-test"}, in.EnvValues)
	assert.Equal(t, "sk-test", cfg.Secrets.AnthropicAPIKey)
}

func TestValidationMessages(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"port out of range", []string{"PARLEY_HTTP__ADDR=127.0.0.1:70000"}, []string{"http.addr", "70000", "port must be 0-65535"}},
		{"negative duration", []string{"PARLEY_HTTP__DRAIN_TIMEOUT=-5s"}, []string{"http.drain_timeout", "-5s", ">= 0"}},
		{"unknown log level", []string{"PARLEY_LOG__LEVEL=verbose"}, []string{"log.level", "verbose", "debug, info, warn, error"}},
		{"bad sample rate", []string{"PARLEY_SESSION__OUTPUT_SAMPLE_RATE=44100"}, []string{"session.output_sample_rate", "44100", "[8000 16000 24000 48000]"}},
		{"pipeline names unknown plugin", []string{"PARLEY_PIPELINE__STT=ghost"}, []string{"pipeline.stt[0]", "ghost", "plugins.instances"}},
		{"threshold limits inverted", []string{"PARLEY_VAD__THRESHOLD_MAX=5"}, []string{"vad.threshold_max", "5", "vad.threshold_min (6)"}},
		{"threshold limit not positive", []string{"PARLEY_VAD__THRESHOLD_MIN=0"}, []string{"vad.threshold_min", "must be in (0, 60]"}},
		{"threshold outside its limits", []string{"PARLEY_VAD__THRESHOLD=30"}, []string{"vad.threshold", "30", "[6, 24]"}},
		{"min speech limits inverted", []string{"PARLEY_VAD__MIN_SPEECH_MAX=50ms"}, []string{"vad.min_speech_max", "50ms", "vad.min_speech_min (60ms)"}},
		{"min speech limit not positive", []string{"PARLEY_VAD__MIN_SPEECH_MIN=0s"}, []string{"vad.min_speech_min", "0s"}},
		{"min speech outside its limits", []string{"PARLEY_VAD__MIN_SPEECH=600ms"}, []string{"vad.min_speech", "600ms", "[60ms, 500ms]"}},
		{"several at once", []string{"PARLEY_LOG__LEVEL=loud", "PARLEY_HTTP__ADDR=nope"}, []string{"log.level", "http.addr"}},
		{"unknown vad engine", []string{"PARLEY_VAD__ENGINE=webrtc"}, []string{"vad.engine", "webrtc", "energy, silero"}},
		{"silero without a model", []string{"PARLEY_VAD__ENGINE=silero", "PARLEY_VAD__ONNXRUNTIME_PATH=/no/such/libonnxruntime.so.1"}, []string{"vad.model_path", "make build fetches it"}},
		{"silero model missing", []string{"PARLEY_VAD__ENGINE=silero", "PARLEY_VAD__MODEL_PATH=/no/such/silero_vad_v5.onnx"}, []string{"vad.model_path", "/no/such/silero_vad_v5.onnx", "readable file"}},
		{"silero runtime missing", []string{"PARLEY_VAD__ENGINE=silero", "PARLEY_VAD__ONNXRUNTIME_PATH=/no/such/libonnxruntime.so.1"}, []string{"vad.onnxruntime_path", "/no/such/libonnxruntime.so.1", "readable file"}},
		{"enter probability out of range", []string{"PARLEY_VAD__ENTER_PROBABILITY=1"}, []string{"vad.enter_probability", "(0, 1)"}},
		{"exit above enter", []string{"PARLEY_VAD__EXIT_PROBABILITY=0.6"}, []string{"vad.exit_probability", "0.6", "vad.enter_probability (0.5)"}},
		{"batch wait too long", []string{"PARLEY_VAD__BATCH_WAIT=50ms"}, []string{"vad.batch_wait", "50ms", "20ms"}},
		{"pprof off loopback", []string{"PARLEY_TELEMETRY__PPROF_ADDR=0.0.0.0:6060"}, []string{"telemetry.pprof_addr", "0.0.0.0:6060", "loopback"}},
		{"gc percent too low", []string{"PARLEY_TELEMETRY__GC_PERCENT=5"}, []string{"telemetry.gc_percent", "5", "10..1000"}},
		{"gc percent too high", []string{"PARLEY_TELEMETRY__GC_PERCENT=5000"}, []string{"telemetry.gc_percent", "5000", "10..1000"}},
		{"max utterance too short", []string{"PARLEY_VAD__MAX_UTTERANCE=500ms"}, []string{"vad.max_utterance", "500ms", "[1s, 10m0s]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadWith(Options{Environ: func() []string { return tt.env }})
			require.Error(t, err)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "want a *FieldError, got %T: %v", err, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestBadTypeNamesKey(t *testing.T) {
	_, err := LoadWith(Options{Environ: func() []string { return []string{"PARLEY_SESSION__MAX_SESSIONS=lots"} }})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max_sessions")
}

func TestYAMLRedactsSecrets(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "parley.yaml", "auth:\n  api_keys: [s3cret-key]\nredis:\n  password: hunter2\n")
	cfg, err := LoadWith(Options{Paths: []string{p}, Environ: func() []string { return []string{"OPENAI_API_KEY=sk-live-123"} }})
	require.NoError(t, err)
	out, err := cfg.YAML()
	require.NoError(t, err)
	s := string(out)
	for _, secret := range []string{"s3cret-key", "hunter2", "sk-live-123"} {
		assert.NotContains(t, s, secret)
	}
	assert.Contains(t, s, Redacted)
	assert.Contains(t, s, "OPENAI_API_KEY: set")
	assert.True(t, strings.Contains(s, "drain_timeout: 10s"), s)
}

func TestShippedConfigsLoad(t *testing.T) {
	// Paths in the shipped configs (./bin/models, ./bin/plugins) are
	// relative to the repository root, where make runs the server; make
	// test fetches ./bin/models first.
	t.Chdir("../../..")
	matches, err := filepath.Glob("configs/*.yaml")
	require.NoError(t, err)
	for _, m := range matches {
		t.Run(filepath.Base(m), func(t *testing.T) {
			_, err := LoadWith(Options{Paths: []string{m}, Environ: func() []string { return nil }})
			require.NoError(t, err)
		})
	}
}

func FuzzLoadYAML(f *testing.F) {
	f.Add("http:\n  addr: :8080\n")
	f.Add("plugins:\n  instances:\n    - {name: a, kind: stt, path: x}\n")
	f.Add("vad: {threshold: -1}")
	f.Fuzz(func(t *testing.T, body string) {
		dir := t.TempDir()
		p := filepath.Join(dir, "f.yaml")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		cfg, err := LoadWith(Options{Paths: []string{p}, Environ: func() []string { return nil }})
		if err == nil {
			require.NoError(t, cfg.Validate())
		}
	})
}

// TestEnvExampleDocumentsEveryKey keeps configs/.env.example complete:
// every scalar key has its PARLEY_ variable there.
func TestEnvExampleDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../../configs/.env.example")
	require.NoError(t, err)
	doc := string(b)
	known, free := knownKeys(reflect.TypeFor[Config](), "")
	for key := range known {
		if underFree(key, free) || listOfObjects(key) {
			continue
		}
		name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, keyDelim, EnvNesting))
		assert.Contains(t, doc, name, "configs/.env.example must document %s", key)
	}
	for _, s := range []string{EnvAnthropicKey, EnvElevenLabsKey, EnvOpenAIKey, EnvDeepgramKey} {
		assert.Contains(t, doc, s)
	}
}

// listOfObjects are keys configured in YAML only (lists of objects).
func listOfObjects(key string) bool {
	switch key {
	case "webrtc.ice_servers", "plugins.instances", "tools.webhooks", "tools.mcp", "telephony.numbers":
		return true
	}
	return false
}

// TestLayeredFiles: later files override earlier ones key by key, plugin
// instances merge by name, pipeline chains are replaced whole; an unknown
// key names the file it is in.
func TestLayeredFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	base := write("base.yaml", `
session: {voice: slt, max_sessions: 10}
plugins:
  instances:
    - {name: stt-a, kind: stt, path: ./a, config: {pool_size: 1, model: small}}
    - {name: llm-a, kind: llm, path: ./l}
    - {name: tts-a, kind: tts, path: ./t}
pipeline: {stt: [stt-a], llm: [llm-a], tts: [tts-a]}
`)
	over := write("over.yaml", `
session: {voice: kal16}
plugins:
  instances:
    - {name: stt-a, config: {model: large}}
    - {name: llm-b, kind: llm, path: ./b}
pipeline: {llm: [llm-b, llm-a]}
`)
	cfg, err := LoadWith(Options{Paths: []string{base, over}, Environ: func() []string { return nil }})
	require.NoError(t, err)
	assert.Equal(t, "kal16", cfg.Session.Voice, "a later file overrides a key")
	assert.Equal(t, 10, cfg.Session.MaxSessions, "keys it does not name stay")
	require.Len(t, cfg.Plugins.Instances, 4, "instances merge by name; new ones are appended")
	stt := cfg.Plugins.Instances[0]
	assert.Equal(t, "stt-a", stt.Name)
	assert.Equal(t, "./a", stt.Path, "an instance's keys not named by the overlay stay")
	assert.JSONEq(t, `{"pool_size":1,"model":"large"}`, mustJSON(t, stt.Config), "its config merges key by key")
	assert.Equal(t, "llm-b", cfg.Plugins.Instances[3].Name)
	assert.Equal(t, []string{"llm-b", "llm-a"}, cfg.Pipeline.LLM, "a chain is replaced whole")
	assert.Equal(t, []string{"stt-a"}, cfg.Pipeline.STT)

	bad := write("bad.yaml", "sesion: {voice: x}\n")
	_, err = LoadWith(Options{Paths: []string{base, bad}, Environ: func() []string { return nil }})
	var uk *UnknownKeyError
	require.ErrorAs(t, err, &uk)
	assert.Contains(t, err.Error(), "bad.yaml")

	nameless := write("nameless.yaml", "plugins:\n  instances:\n    - {kind: stt, path: ./x}\n")
	_, err = LoadWith(Options{Paths: []string{base, nameless}, Environ: func() []string { return nil }})
	assert.ErrorIs(t, err, ErrInstanceName)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// TestMCPServersValidated: each tools.mcp entry needs a name and exactly
// one of url and command; errors name the key.
func TestMCPServersValidated(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"no name":   {"tools: {mcp: [{command: x}]}", "tools.mcp[0].name"},
		"both":      {"tools: {mcp: [{name: a, command: x, url: 'http://h/'}]}", "exactly one of url"},
		"neither":   {"tools: {mcp: [{name: a}]}", "exactly one of url"},
		"bad url":   {"tools: {mcp: [{name: a, url: 'ftp://h/'}]}", "tools.mcp[0].url"},
		"duplicate": {"tools: {mcp: [{name: a, command: x}, {name: a, command: y}]}", "tools.mcp[1].name"},
		"prefix":    {"tools: {mcp: [{name: a, command: x, prefix: 'no spaces'}]}", "tools.mcp[0].prefix"},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "p.yaml", tc.yaml)
			_, err := LoadWith(Options{Paths: []string{path}, Environ: func() []string { return nil }})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	path := writeFile(t, t.TempDir(), "p.yaml", "tools: {mcp: [{name: crm, url: 'https://crm.example/mcp', headers_env: {Authorization: CRM_TOKEN}, env: [X]}]}")
	cfg, err := LoadWith(Options{Paths: []string{path}, Environ: func() []string { return []string{"CRM_TOKEN=Bearer t"} }})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"Authorization": "Bearer t"}, cfg.Tools.MCP[0].HeaderValues)
}
