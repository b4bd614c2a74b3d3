// Package app wires Parley's components by hand from a loaded Config and
// runs them until the context ends, then drains. It is the only place that
// knows every component; main only parses flags and signals.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/httpapi"
	"github.com/parleyhq/parley/server/internal/ratelimit"
	"github.com/parleyhq/parley/server/internal/telemetry"
)

// App is a configured Parley server.
type App struct {
	cfg     *config.Config
	logger  *slog.Logger
	version httpapi.VersionInfo
}

// New returns an App for cfg.
func New(cfg *config.Config, version httpapi.VersionInfo, logger *slog.Logger) *App {
	return &App{cfg: cfg, logger: logger, version: version}
}

// Run serves on ln until ctx is done, then stops accepting, drains within
// the configured timeout and returns nil on a clean shutdown.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	cfg := a.cfg
	reg := telemetry.NewRegistry()
	guard := telemetry.NewMemoryGuard(cfg.Telemetry, reg, a.logger)

	var limiter ratelimit.Limiter
	if cfg.RateLimit.Enabled {
		l, closeLimiter := newLimiter(cfg)
		defer closeLimiter()
		limiter = l
	}

	handler, err := httpapi.New(httpapi.Options{
		HTTP:     cfg.HTTP,
		Auth:     cfg.Auth,
		Limiter:  limiter,
		Gatherer: reg,
		Ready:    func() []string { return nil },
		Version:  a.version,
		Logger:   a.logger,
		API:      func(chi.Router) {},
		Voice:    func(chi.Router) {},
	})
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return guard.Run(gctx) })
	g.Go(func() error {
		a.logger.Info("parley listening", "addr", ln.Addr().String(), "version", a.version.Version)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		a.logger.Info("shutting down", "drain_timeout", cfg.HTTP.DrainTimeout)
		return a.drain(srv)
	})
	return g.Wait()
}

// drain stops accepting and waits for in-flight requests and sessions,
// bounded by the drain timeout.
func (a *App) drain(srv *http.Server) error {
	dctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.DrainTimeout)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(dctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("drain: %w", err)
	}
	a.logger.Info("drained", "took", time.Since(start))
	return nil
}

// newLimiter builds the configured rate limiter and its cleanup.
func newLimiter(cfg *config.Config) (ratelimit.Limiter, func()) {
	if cfg.RateLimit.Backend == config.RateLimitRedis {
		client := redis.NewClient(&redis.Options{
			Addr:     cfg.Redis.Addr,
			Password: cfg.Redis.Password,
			DB:       cfg.Redis.DB,
		})
		return ratelimit.NewRedis(cfg.RateLimit, client, cfg.Redis.KeyPrefix), func() { _ = client.Close() }
	}
	return ratelimit.NewMemory(cfg.RateLimit, nil), func() {}
}
