package pluginhost

import (
	"bytes"
	"log/slog"
	"testing"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
)

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var l hclog.Logger = newHCLogAdapter(base.With("plugin", "p1"), "go-plugin")

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
