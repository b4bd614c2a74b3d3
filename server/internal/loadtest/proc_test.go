package loadtest

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	line := "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 75 0 0 20 0 9 0 12345 100000 300 18446744073709551615\n"
	cpu, err := parseStat([]byte(line))
	require.NoError(t, err)
	assert.Equal(t, 3250*time.Millisecond, cpu, "(250 + 75) ticks of 10 ms")

	for name, bad := range map[string]string{
		"no name":    "4242 S 1 2 3",
		"too short":  "4242 (x) S 1 2 3",
		"not number": "4242 (x) S 1 4242 4242 0 -1 4194560 1200 0 0 0 ab 75 0",
	} {
		_, err := parseStat([]byte(bad))
		assert.Error(t, err, name)
	}
}

func TestParseRSS(t *testing.T) {
	rss, err := parseRSS([]byte("Name:\tparley\nVmPeak:\t  9000 kB\nVmRSS:\t    1536 kB\nThreads:\t9\n"))
	require.NoError(t, err)
	assert.Equal(t, int64(1536*1024), rss)

	rss, err = parseRSS([]byte("Name:\tkthreadd\nThreads:\t1\n"))
	require.NoError(t, err)
	assert.Zero(t, rss, "a kernel thread has no VmRSS")

	_, err = parseRSS([]byte("VmRSS:\t12 MB\n"))
	assert.Error(t, err)
}

func TestReadProcSelf(t *testing.T) {
	self, err := readProc(procRoot, os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, self.rss)
	same, err := readProc(procRoot, 0)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, same.cpu, self.cpu, "CPU time only grows")

	_, err = readProc(t.TempDir(), 1)
	assert.Error(t, err)
}

func TestCPUPercent(t *testing.T) {
	from := procSample{cpu: time.Second}
	to := procSample{cpu: 1500 * time.Millisecond}
	assert.InDelta(t, 25.0, cpuPercent(from, to, 2*time.Second), 1e-9)
	assert.Zero(t, cpuPercent(from, to, 0))
}

// FuzzProcParsers: whatever /proc holds, the parsers return a value or an
// error and never panic.
func FuzzProcParsers(f *testing.F) {
	f.Add([]byte("1 (x) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0\n"))
	f.Add([]byte("VmRSS:\t 12 kB\n"))
	f.Add([]byte(")))"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStat(b)
		_, _ = parseRSS(b)
	})
}
