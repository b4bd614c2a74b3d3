package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cspMarker is in every CSP violation Chromium writes to the console
// ("Refused to … because it violates the following Content Security Policy
// directive: …").
const cspMarker = "Content Security Policy"

// watchCSPViolations records the page's securitypolicyviolation events in
// window.cspViolations. Violations while the page loads show in the
// console, which the browser harness records from launch.
func watchCSPViolations(t *testing.T, b *browser) {
	t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Evaluate[chromedp.Void](`
		window.cspViolations = [];
		document.addEventListener("securitypolicyviolation",
			e => window.cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline")));`))
	require.NoError(t, err)
}

// requireNoCSPViolations fails on any violation seen since the page
// loaded, then proves the check can see one: an inline script, which the
// policy forbids, must be reported.
func requireNoCSPViolations(t *testing.T, b *browser) {
	t.Helper()
	seen, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.cspViolations`))
	require.NoError(t, err)
	assert.Empty(t, seen, "CSP violations while talking")
	for line := range strings.Lines(b.console.String()) {
		assert.NotContains(t, line, cspMarker, "CSP violation in the console")
	}

	_, err = chromedp.Run(b.ctx, chromedp.Evaluate[chromedp.Void](`
		{ const s = document.createElement("script"); s.textContent = "window.inlineRan = true"; document.head.appendChild(s); }`))
	require.NoError(t, err)
	waitFor(t, b, `window.cspViolations.length > 0`, connectTimeout)
	ran, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.inlineRan === true`))
	require.NoError(t, err)
	assert.False(t, ran, "the CSP blocks inline script")
}

// requireSecurityHeaders checks that the page the browser loads is served
// with the CSP and the other security headers on.
func requireSecurityHeaders(t *testing.T, srv *server) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.url("/"), nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'", "the page is served with the CSP")
	assert.Contains(t, resp.Header.Get("Permissions-Policy"), "microphone=(self)")
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}
