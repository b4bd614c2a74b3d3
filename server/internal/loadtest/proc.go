package loadtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// which Linux fixes at 100 for user space on every architecture Go
// supports).
const userHZ = 100

// /proc/<pid>/stat fields after the command name: field 3 (state) is
// index 0, so utime (14) and stime (15) are 11 and 12.
const (
	statUtime = 11
	statStime = 12
	// statFirstField is the field number of index 0 (for messages).
	statFirstField = 3
)

// kib is the unit of VmRSS in /proc/<pid>/status.
const kib = 1024

// procSample is one reading of a process.
type procSample struct {
	cpu time.Duration // user + system CPU time consumed so far
	rss int64         // resident set size, bytes
}

// readProc reads /proc/<pid> under root ("/proc" outside tests); pid 0
// means "self".
func readProc(root string, pid int) (procSample, error) {
	dir := "self"
	if pid != 0 {
		dir = strconv.Itoa(pid)
	}
	stat, err := os.ReadFile(filepath.Join(root, dir, "stat"))
	if err != nil {
		return procSample{}, fmt.Errorf("process %s: %w", dir, err)
	}
	cpu, err := parseStat(stat)
	if err != nil {
		return procSample{}, fmt.Errorf("process %s: %w", dir, err)
	}
	status, err := os.ReadFile(filepath.Join(root, dir, "status"))
	if err != nil {
		return procSample{}, fmt.Errorf("process %s: %w", dir, err)
	}
	rss, err := parseRSS(status)
	if err != nil {
		return procSample{}, fmt.Errorf("process %s: %w", dir, err)
	}
	return procSample{cpu: cpu, rss: rss}, nil
}

// parseStat returns utime+stime of a /proc/<pid>/stat line. The command
// name may hold spaces and parentheses, so fields are counted after the
// last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name in %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) <= statStime {
		return 0, fmt.Errorf("stat: %d fields after the command name, want more than %d", len(f), statStime)
	}
	var ticks int64
	for _, k := range []int{statUtime, statStime} {
		v, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: field %d: %w", k+statFirstField, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseRSS returns VmRSS of a /proc/<pid>/status file in bytes (0 for a
// kernel thread or zombie, which has none).
func parseRSS(b []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("status: VmRSS %q", rest)
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status: VmRSS: %w", err)
		}
		return v * kib, nil
	}
	return 0, sc.Err()
}

// cpuPercent is the share of one core used between two readings.
func cpuPercent(from, to procSample, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return 100 * float64(to.cpu-from.cpu) / float64(wall)
}
