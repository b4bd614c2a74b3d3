package pluginhost

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"testing"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var l hclog.Logger = newHCLogAdapter(base.With("plugin", "p1"), "go-plugin", nil)

	tests := []struct {
		name string
		log  func()
		want []string
		not  []string
	}{
		{"info with args", func() { l.Info("hello", "k", 1) }, []string{"level=INFO", "msg=hello", "k=1", "plugin=p1", "logger=go-plugin"}, nil},
		{"trace and debug are dropped below Info", func() { l.Trace("t"); l.Debug("d") }, nil, []string{"msg=t", "msg=d"}},
		{"warn", func() { l.Warn("w") }, []string{"level=WARN", "msg=w"}, nil},
		{"error", func() { l.Error("e") }, []string{"level=ERROR", "msg=e"}, nil},
		{"named and with", func() { l.Named("stdio").With("a", "b").Info("x") }, []string{"logger=go-plugin.stdio", "a=b"}, nil},
		{"reset named", func() { l.ResetNamed("other").Info("y") }, []string{"logger=other"}, []string{"logger=go-plugin"}},
		{"standard writer", func() {
			_, _ = l.StandardWriter(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}).Write([]byte("line\n"))
		}, []string{"level=WARN", "msg=line"}, nil},
		{"off", func() { l.Log(hclog.Off, "off") }, nil, []string{"msg=off"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			tt.log()
			for _, w := range tt.want {
				assert.Contains(t, buf.String(), w)
			}
			for _, n := range tt.not {
				assert.NotContains(t, buf.String(), n)
			}
		})
	}
	assert.False(t, l.IsDebug())
	assert.True(t, l.IsInfo())
	assert.Equal(t, hclog.Info, l.GetLevel())
	assert.Equal(t, "go-plugin", l.Name())
}

// TestHCLogProcessExit: go-plugin's "plugin process exited" (Error with a
// signal or exit status) is Info "plugin stopped" when Parley stops the
// plugin, Info when a SIGTERM/SIGINT from outside stopped it, and Warn for a
// crash (the supervisor's restart lines follow).
func TestHCLogProcessExit(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var stopping atomic.Bool
	l := newHCLogAdapter(base, "go-plugin", stopping.Load)
	tests := []struct {
		name     string
		stopping bool
		level    hclog.Level
		err      string
		want     []string
	}{
		{"stopped by Parley, killed after the grace", true, hclog.Error, "signal: killed", []string{"level=INFO", `msg="plugin stopped"`}},
		{"stopped by Parley, clean exit", true, hclog.Info, "", []string{"level=INFO", `msg="plugin stopped"`}},
		{"SIGTERM from outside", false, hclog.Error, "signal: terminated", []string{"level=INFO", `msg="plugin stopped by signal"`}},
		{"SIGINT from outside", false, hclog.Error, "signal: interrupt", []string{"level=INFO", `msg="plugin stopped by signal"`}},
		{"crash", false, hclog.Error, "exit status 2", []string{"level=WARN", `msg="plugin process exited"`, `error="exit status 2"`}},
		{"SIGKILL from outside", false, hclog.Error, "signal: killed", []string{"level=WARN", `msg="plugin process exited"`}},
		{"clean exit on its own", false, hclog.Info, "", []string{"level=INFO", `msg="plugin process exited"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			stopping.Store(tt.stopping)
			args := []any{"plugin", "/bin/p", "id", 42}
			if tt.err != "" {
				args = append(args, "error", tt.err)
			}
			l.Log(tt.level, "plugin process exited", args...)
			for _, w := range tt.want {
				assert.Contains(t, buf.String(), w)
			}
			assert.NotContains(t, buf.String(), "level=ERROR")
		})
	}
	buf.Reset()
	l.Error("something else")
	assert.Contains(t, buf.String(), "level=ERROR", "other errors keep their level")
}

// TestHCLogPluginSlogLines: a plugin's slog JSON line, which go-plugin
// passes on verbatim at Debug, is re-logged at its own level with its
// message and fields; other Debug lines stay as they are.
func TestHCLogPluginSlogLines(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := newHCLogAdapter(base, "go-plugin.tts-flite", nil)
	tests := []struct {
		name, line, level, msg string
		fields                 map[string]any
	}{
		{"info", `{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"decoders warm","pool_size":2,"took":"883ms"}`, "INFO", "decoders warm",
			map[string]any{"pool_size": 2.0, "took": "883ms"}},
		{"warn with offset", `{"time":"2026-01-01T00:00:00Z","level":"WARN+2","msg":"slow"}`, "WARN", "slow", nil},
		{"error", `{"level":"ERROR","msg":"provider refused","status":401}`, "ERROR", "provider refused", map[string]any{"status": 401.0}},
		{"not slog", `{"foo":"bar"}`, "DEBUG", `{"foo":"bar"}`, nil},
		{"plain text", `pocketsphinx: loading model`, "DEBUG", "pocketsphinx: loading model", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			l.Debug(tt.line)
			var rec map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), buf.String())
			assert.Equal(t, tt.level, rec["level"])
			assert.Equal(t, tt.msg, rec["msg"])
			assert.Equal(t, "go-plugin.tts-flite", rec["logger"])
			for k, v := range tt.fields {
				assert.Equal(t, v, rec[k], k)
			}
		})
	}
}
