package sdk_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/parleyhq/parley/sdk"
)

const (
	benchFrameBytes = 640 // 20 ms of 16 kHz PCM16
	benchFrameEvery = 20 * time.Millisecond
)

// BenchmarkSTTRoundTrip measures SendAudio → Recv of the answering event on
// one bidi STT stream over the real gRPC adapters, in lockstep (next frame
// as soon as the answer arrives) and paced at real time (one 640-byte frame
// per 20 ms, as a live call sends). It reports p50/p99 round trips in µs.
// The paced runs need a fixed count: go test -bench STTRoundTrip -benchtime 1000x.
func BenchmarkSTTRoundTrip(b *testing.B) {
	b.Run("inproc", func(b *testing.B) {
		stt := dispenseBench(b)
		b.Run("lockstep", func(b *testing.B) { roundTrips(b, stt, 0, 0) })
		b.Run("paced", func(b *testing.B) { roundTrips(b, stt, benchFrameEvery, 0) })
	})
	for _, v := range []struct {
		name string
		env  []string
		dial []grpc.DialOption
	}{
		{"binary", nil, sdk.DialOptions()},
		// One P in the plugin: goroutine hand-offs stay on one thread
		// instead of waking an idle one on the other core.
		{"binary-maxprocs1", []string{"GOMAXPROCS=1"}, sdk.DialOptions()},
		// The plugin answers from SendAudio: no stream-helper goroutine.
		{"binary-maxprocs1-direct", []string{"GOMAXPROCS=1", "ECHOSTT_DIRECT=1"}, sdk.DialOptions()},
		// go-plugin's default dial options: dynamic windows with BDP pings.
		{"binary-defaultdial", nil, nil},
	} {
		b.Run(v.name, func(b *testing.B) {
			stt, pid := launchEchoSTT(b, v.env, v.dial)
			b.Run("lockstep", func(b *testing.B) { roundTrips(b, stt, 0, pid) })
			b.Run("paced", func(b *testing.B) { roundTrips(b, stt, benchFrameEvery, pid) })
		})
	}
}

func dispenseBench(b *testing.B) sdk.STT {
	b.Helper()
	set, err := sdk.ServeConfig{STT: fakeSTT{fakeBase{sdk.KindSTT}}}.PluginSet()
	require.NoError(b, err)
	client, server := plugin.TestPluginGRPCConn(b, false, set)
	b.Cleanup(func() {
		server.Stop()
		_ = client.Close()
	})
	raw, err := client.Dispense(string(sdk.KindSTT))
	require.NoError(b, err)
	return raw.(sdk.STT) //nolint:forcetypeassert // Dispense("stt") returns an sdk.STT.
}

// launchEchoSTT builds sdk/internal/echostt and starts it as the host does.
// PARLEY_BENCH_ECHOSTT names a prebuilt binary to use instead, e.g. one
// built from an older commit for an A/B comparison.
func launchEchoSTT(b *testing.B, env []string, dial []grpc.DialOption) (sdk.STT, int) {
	b.Helper()
	bin := os.Getenv("PARLEY_BENCH_ECHOSTT")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "echostt")
		out, err := exec.CommandContext(b.Context(), "go", "build", "-o", bin, "./internal/echostt").CombinedOutput()
		require.NoError(b, err, "go build: %s", out)
	}
	cmd := exec.Command(bin) //nolint:noctx // go-plugin owns the process.
	cmd.Env = env
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.HandshakeConfig(),
		VersionedPlugins: sdk.ClientPlugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		GRPCDialOptions:  dial,
		Logger:           hclog.NewNullLogger(),
	})
	b.Cleanup(client.Kill)
	rpc, err := client.Client()
	require.NoError(b, err)
	raw, err := rpc.Dispense(string(sdk.KindSTT))
	require.NoError(b, err)
	return raw.(sdk.STT), client.ReattachConfig().Pid //nolint:forcetypeassert // Dispense("stt") returns an sdk.STT.
}

// contextSwitches sums the voluntary and involuntary context switches of
// every thread of process pid: each is a thread going to sleep or being
// preempted, so per frame they count the wake-ups on the audio path
// whatever else loads the machine.
func contextSwitches(b *testing.B, pid int) int {
	b.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	total := 0
	for _, task := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue // the thread exited
		}
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				total += n
			}
		}
	}
	return total
}

// roundTrips sends b.N frames, every `every` (0: lockstep), and reports
// the round-trip percentiles and the context switches per frame of this
// process and of the plugin process pid (0: in-process).
func roundTrips(b *testing.B, stt sdk.STT, every time.Duration, pid int) {
	st, err := stt.Transcribe(b.Context(), sdk.STTConfig{SampleRate: 16000, Encoding: sdk.EncodingPCM16LE, InterimResults: true})
	require.NoError(b, err)
	frame := make([]byte, benchFrameBytes)
	rtts := make([]time.Duration, 0, b.N)
	var tick <-chan time.Time
	if every > 0 {
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		tick = ticker.C
	}
	b.SetBytes(benchFrameBytes)
	hostCS := contextSwitches(b, os.Getpid())
	pluginCS := 0
	if pid != 0 {
		pluginCS = contextSwitches(b, pid)
	}
	b.ResetTimer()
	for range b.N {
		if tick != nil {
			<-tick
		}
		start := time.Now()
		if err := st.SendAudio(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Recv(); err != nil {
			b.Fatal(err)
		}
		rtts = append(rtts, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(contextSwitches(b, os.Getpid())-hostCS)/float64(b.N), "host-cs/op")
	if pid != 0 {
		b.ReportMetric(float64(contextSwitches(b, pid)-pluginCS)/float64(b.N), "plugin-cs/op")
	}
	require.NoError(b, st.CloseSend())
	for {
		if _, err := st.Recv(); err != nil {
			break
		}
	}
	slices.Sort(rtts)
	b.ReportMetric(float64(rtts[len(rtts)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(rtts[len(rtts)*99/100].Nanoseconds())/1e3, "p99-µs")
}
