// Package tlsconf is HTTPS served by Parley itself: a tls.Config with TLS
// 1.2 as the floor and Go's default cipher suites, the server certificate
// served through GetCertificate from an atomically swapped pointer (so it
// can be reloaded on SIGHUP or when its files change without touching live
// connections), and optional client certificates verified against a CA
// bundle for the admin routes.
package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/server/internal/config"
)

// Reloader holds the current server certificate and replaces it when asked
// (Reload), on a signal or when the files change (Run). A failed reload
// keeps the previous certificate.
type Reloader struct {
	certFile, keyFile string
	interval          time.Duration
	logger            *slog.Logger
	cert              atomic.Pointer[tls.Certificate]
	// stamp is what the files looked like at the last load; only Run's
	// goroutine and NewReloader touch it.
	stamp fileStamp
}

// NewReloader loads cfg's certificate and key; cfg.ReloadInterval is how
// often Run checks the files (0 = only on signal).
func NewReloader(cfg config.TLS, logger *slog.Logger) (*Reloader, error) {
	r := &Reloader{certFile: cfg.CertFile, keyFile: cfg.KeyFile, interval: cfg.ReloadInterval, logger: logger}
	r.stamp = r.currentStamp()
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate is tls.Config.GetCertificate: the current certificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Current returns the certificate served to new connections.
func (r *Reloader) Current() *x509.Certificate {
	c := r.cert.Load()
	if c == nil {
		return nil
	}
	return c.Leaf
}

// Reload reads the certificate and key files again and, if they load and
// match, serves them to new connections. Live connections keep the
// certificate they were set up with.
func (r *Reloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("%w from http.tls.cert_file %s and http.tls.key_file %s: %w", ErrCertificate, r.certFile, r.keyFile, err)
	}
	r.cert.Store(&c)
	return nil
}

// Run reloads the certificate on every value from reload (SIGHUP, wired by
// main; nil = none) and, with a reload interval, whenever the files' size
// or modification time change. A failed reload is logged at Error (the
// operator must fix the files; the old certificate is still served). Run
// returns nil when ctx is done.
func (r *Reloader) Run(ctx context.Context, reload <-chan os.Signal) error {
	var tick <-chan time.Time
	if r.interval > 0 {
		t := time.NewTicker(r.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reload:
			r.reload("signal")
		case <-tick:
			if s := r.currentStamp(); s != r.stamp {
				r.stamp = s
				r.reload("files changed")
			}
		}
	}
}

func (r *Reloader) reload(why string) {
	if err := r.Reload(); err != nil {
		r.logger.Error("tls certificate reload failed; still serving the previous certificate", "reason", why, "err", err)
		return
	}
	leaf := r.Current()
	r.logger.Info("tls certificate reloaded", "reason", why, "subject", leaf.Subject.String(),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
}

// fileStamp is what changes when a certificate manager replaces a file.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

func (r *Reloader) currentStamp() fileStamp {
	var s fileStamp
	if fi, err := os.Stat(r.certFile); err == nil {
		s.certMod, s.certSize = fi.ModTime(), fi.Size()
	}
	if fi, err := os.Stat(r.keyFile); err == nil {
		s.keyMod, s.keySize = fi.ModTime(), fi.Size()
	}
	return s
}

// ServerConfig is the listener's tls.Config: TLS 1.2 or newer with Go's
// default cipher suites and curves, the certificate from r, HTTP/1.1 only
// (WebSocket upgrades need it), and — when cfg.ClientCAFile is set — client
// certificates requested and verified against that bundle if presented
// (tls.VerifyClientCertIfGiven: browsers on the voice routes are not
// asked to present one; the admin routes refuse requests without one).
func ServerConfig(cfg config.TLS, r *Reloader) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"http/1.1"},
	}
	if cfg.ClientCAFile != "" {
		b, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("%w http.tls.client_ca_file %s: %w", ErrClientCA, cfg.ClientCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%w http.tls.client_ca_file %s: no PEM certificate in it", ErrClientCA, cfg.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}
