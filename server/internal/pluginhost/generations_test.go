package pluginhost

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
)

// genPlugins is a two-instance configuration whose TTS carries label
// (another label is another identity).
func genPlugins(label string) (config.Plugins, config.Pipeline) {
	return config.Plugins{
			HealthInterval: 100 * time.Millisecond,
			Instances: []config.Instance{
				inst("stt", config.KindSTT, nil),
				inst("tts", config.KindTTS, map[string]any{"label": label}),
			},
		}, config.Pipeline{
			STT: []string{"stt"}, TTS: []string{"tts"},
		}
}

// pidOf returns the pid of the named instance in a Status list.
func pidOf(t *testing.T, st []Status, name string, gen int) int {
	t.Helper()
	for _, s := range st {
		if s.Name == name && s.Generation == gen {
			return s.PID
		}
	}
	require.Failf(t, "no such instance", "%s of generation %d in %+v", name, gen, st)
	return 0
}

func gone(pid int) bool { return syscall.Kill(pid, 0) == syscall.ESRCH }

func startGenerations(t *testing.T, reg *prometheus.Registry) *Generations {
	t.Helper()
	plugins, pipeline := genPlugins("one")
	h, err := New(plugins, testRes(), pipeline, reg, testLogger(t))
	require.NoError(t, err)
	require.NoError(t, h.Start(t.Context()))
	gs, err := NewGenerations(h, reg, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		require.NoError(t, gs.Close(ctx))
		assert.Empty(t, childPIDs(t), "child processes left after Close")
	})
	return gs
}

// TestSuccessorCarriesOverUnchanged: a successor keeps the unchanged
// instance's process, starts the changed one; the old generation's own
// process stops when its last lease is released, not before.
func TestSuccessorCarriesOverUnchanged(t *testing.T) {
	reg := prometheus.NewRegistry()
	gs := startGenerations(t, reg)
	lease := gs.Acquire()
	assert.Equal(t, 1, lease.Generation())
	st1 := gs.Status()
	stt1, tts1 := pidOf(t, st1, "stt", 1), pidOf(t, st1, "tts", 1)

	cur, _ := gs.Current()
	plugins, pipeline := genPlugins("two")
	next, err := cur.Successor(plugins, testRes(), pipeline)
	require.NoError(t, err)
	assert.Equal(t, []string{"tts"}, next.Fresh())
	assert.Equal(t, []string{"stt"}, next.CarriedOver())
	require.NoError(t, next.Start(t.Context()))
	n, err := gs.Promote(next, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 2, n)

	st2 := gs.Status()
	assert.Equal(t, stt1, pidOf(t, st2, "stt", 2), "the unchanged instance keeps its process")
	assert.Equal(t, tts1, pidOf(t, st2, "tts", 1), "the old TTS serves the old lease")
	tts2 := pidOf(t, st2, "tts", 2)
	assert.NotEqual(t, tts1, tts2)
	for _, s := range st2 {
		if s.Name == "stt" {
			assert.Equal(t, []int{1, 2}, s.Generations)
		}
	}
	assert.Equal(t, []GenerationInfo{{1, GenerationDraining, 1}, {2, GenerationActive, 0}}, gs.Info())
	assert.Equal(t, 1.0, testutil.ToFloat64(gs.sessions.WithLabelValues("1")))
	assert.Equal(t, 2.0, testutil.ToFloat64(gs.current))
	assert.Equal(t, 1.0, testutil.ToFloat64(next.metrics.up.WithLabelValues("tts")), "the new TTS owns the name's gauge")

	// The old lease still works on the old processes.
	s, err := lease.TTS().Synthesize(t.Context(), sdk.TTSConfig{SampleRate: 16000})
	require.NoError(t, err)
	require.NoError(t, s.CloseSend())
	for {
		if _, err := s.Recv(); err != nil {
			break
		}
	}
	assert.False(t, gone(tts1))

	lease.Release()
	lease.Release() // a second release does nothing
	require.Eventually(t, func() bool { return gone(tts1) }, testTimeout, 10*time.Millisecond, "the old TTS stops after its last lease")
	assert.False(t, gone(stt1), "the carried-over STT keeps running")
	assert.Equal(t, []GenerationInfo{{2, GenerationActive, 0}}, gs.Info())
	assert.Equal(t, 1.0, testutil.ToFloat64(next.metrics.up.WithLabelValues("tts")), "the stopped TTS did not touch the gauge")
	assert.Empty(t, next.Ready())
}

// TestFailedSuccessorChangesNothing: a successor whose new plugin does not
// start is closed without touching the running generation.
func TestFailedSuccessorChangesNothing(t *testing.T) {
	gs := startGenerations(t, prometheus.NewRegistry())
	st1 := gs.Status()
	cur, _ := gs.Current()
	plugins, pipeline := genPlugins("two")
	plugins.Instances[1].Config["configure_error"] = string(sdk.CodeInvalidArgument)
	next, err := cur.Successor(plugins, testRes(), pipeline)
	require.NoError(t, err)
	require.Error(t, next.Start(t.Context()))
	require.NoError(t, next.Close(t.Context()))
	_, n := gs.Current()
	assert.Equal(t, 1, n)
	assert.Equal(t, st1[0].PID, pidOf(t, gs.Status(), "stt", 1))
	assert.Equal(t, st1[1].PID, pidOf(t, gs.Status(), "tts", 1))
	assert.Empty(t, cur.Ready(), "the running generation is untouched")
	assert.Equal(t, 1.0, testutil.ToFloat64(cur.metrics.up.WithLabelValues("tts")), "the gauge is the running TTS's again")
}

// TestDrainTimeoutStopsOldGeneration: a retired generation whose session
// outlives the drain timeout is stopped anyway.
func TestDrainTimeoutStopsOldGeneration(t *testing.T) {
	gs := startGenerations(t, prometheus.NewRegistry())
	lease := gs.Acquire()
	defer lease.Release()
	tts1 := pidOf(t, gs.Status(), "tts", 1)
	cur, _ := gs.Current()
	plugins, pipeline := genPlugins("two")
	next, err := cur.Successor(plugins, testRes(), pipeline)
	require.NoError(t, err)
	require.NoError(t, next.Start(t.Context()))
	_, err = gs.Promote(next, 50*time.Millisecond)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return gone(tts1) }, testTimeout, 10*time.Millisecond)
	assert.Len(t, gs.Info(), 1)
	_, err = lease.TTS().Synthesize(t.Context(), sdk.TTSConfig{SampleRate: 16000})
	assert.Equal(t, sdk.CodeUnavailable, sdk.CodeOf(err), "the expired generation's plugins are gone")
}

// TestSuccessorUnchangedStartsNothing: the same configuration again
// carries everything over.
func TestSuccessorUnchangedStartsNothing(t *testing.T) {
	gs := startGenerations(t, prometheus.NewRegistry())
	cur, _ := gs.Current()
	plugins, pipeline := genPlugins("one")
	next, err := cur.Successor(plugins, testRes(), pipeline)
	require.NoError(t, err)
	assert.Empty(t, next.Fresh())
	assert.Equal(t, []string{"stt", "tts"}, next.CarriedOver())
	require.NoError(t, next.Close(t.Context()))
	assert.Empty(t, cur.Ready(), "closing an unused successor leaves the carried instances running")
}
