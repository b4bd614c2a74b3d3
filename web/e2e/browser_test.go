package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPaths are where Debian and others install Chromium.
func chromiumPaths() []string {
	return []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"}
}

// findChromium returns the Chromium executable.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range chromiumPaths() {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("no Chromium found (tried %v): install Debian's chromium (make deps-test)", chromiumPaths())
	return ""
}

// browserFlags is the whole flag list, built here rather than from
// chromedp's defaults, which add --mute-audio (a muted page plays nothing and
// reports zero audio energy). The last group keeps Chromium on loopback: no
// DNS outside 127.0.0.1, no background services, no QUIC, no mDNS hiding of
// local candidates.
func browserFlags(micWAV, userDataDir string, width, height int) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.Flag("headless", "new"),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", micWAV+"%noloop"),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.Flag("disable-features", strings.Join([]string{
			"WebRtcHideLocalIpsWithMdns", "MediaRouter", "DialMediaRouteProvider",
			"OptimizationHints", "Translate", "AutofillServerCommunication",
		}, ",")),
		chromedp.UserDataDir(userDataDir),
		chromedp.WindowSize(width, height),
	}
}

// consoleLog keeps the page's console messages for failure reports.
type consoleLog struct {
	mu    sync.Mutex
	lines []string
}

func (c *consoleLog) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, s)
}

func (c *consoleLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

// browser is one headless Chromium with its own fake microphone.
type browser struct {
	ctx     context.Context
	console *consoleLog
	output  string // Chromium's own stderr/stdout, for failure reports
}

// launchBrowser starts Chromium with micWAV as its microphone and returns a
// tab context; everything stops when the test ends.
func launchBrowser(t *testing.T, micWAV string, width, height int) *browser {
	t.Helper()
	dir := t.TempDir()
	outPath := filepath.Join(dir, "chromium.log")
	out, err := os.Create(outPath)
	require.NoError(t, err)
	opts := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(findChromium(t)), chromedp.CombinedOutput(out)},
		browserFlags(micWAV, filepath.Join(dir, "profile"), width, height)...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(t.Context()), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)

	b := &browser{ctx: ctx, console: &consoleLog{}, output: outPath}
	// Start the browser now (no timeout on this first Run: it would bound
	// the browser's whole life).
	_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`0`))
	require.NoError(t, err, "starting Chromium")

	consoleCtx, stopConsole := context.WithCancel(ctx)
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range chromedp.Console(consoleCtx) {
			if err != nil {
				return
			}
			b.console.add(m.String())
		}
	}()
	t.Cleanup(func() {
		stopConsole()
		<-consoleDone
		cancelTab()
		cancelAlloc()
		_ = out.Close()
	})
	return b
}

// chromiumOutput returns Chromium's log so far.
func (b *browser) chromiumOutput() string {
	data, err := os.ReadFile(b.output)
	if err != nil {
		return err.Error()
	}
	return string(data)
}
