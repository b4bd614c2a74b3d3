package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/pluginhost"
)

// Reload errors (POST /v1/admin/reload answers each with its own code).
var (
	// ErrReloadInvalid: the new configuration does not load or validate;
	// nothing changed.
	ErrReloadInvalid = errors.New("config reload rejected")
	// ErrReloadStart: the new plugins did not start; nothing changed.
	ErrReloadStart = errors.New("new plugins did not start")
	// ErrReloadBusy: another reload is running.
	ErrReloadBusy = errors.New("a reload is already running")
	// ErrReloadUnavailable: the server was not started from config files.
	ErrReloadUnavailable = errors.New("config reload needs the server's config files")
)

// Reload results, the values of parley_config_reloads_total's label.
const (
	reloadOK        = "ok"
	reloadUnchanged = "unchanged"
	reloadInvalid   = "invalid"
	reloadFailed    = "failed"
)

// ReloadResult is what a reload did.
type ReloadResult struct {
	// Generation is the plugin generation new sessions now get.
	Generation int `json:"generation"`
	// Changed is false when the plugin configuration was the same (no
	// new generation).
	Changed bool `json:"changed"`
	// Started names the instances started for the new generation;
	// CarriedOver those it took over running (same identity, same pid).
	Started     []string `json:"started,omitempty"`
	CarriedOver []string `json:"carried_over,omitempty"`
	// NeedsRestart lists the changed keys a reload does not apply (the
	// listen address, TLS, session and transport settings …).
	NeedsRestart []string `json:"needs_restart,omitempty"`
}

// reloader swaps the plugin configuration of a running server: it loads
// the config files again, starts the changed plugins as a new generation
// and points new sessions at it once it is healthy. One reload runs at a
// time.
type reloader struct {
	paths   []string
	load    func(paths ...string) (*config.Config, error)
	gens    *pluginhost.Generations
	logger  *slog.Logger
	results *prometheus.CounterVec

	mu sync.Mutex
	// applied is the configuration the server runs: the start-up one with
	// each reload's plugin sections.
	applied *config.Config
}

func newReloader(cfg *config.Config, paths []string, gens *pluginhost.Generations,
	reg prometheus.Registerer, logger *slog.Logger,
) (*reloader, error) {
	results := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_config_reloads_total",
		Help: "Config reloads by result: ok (a new plugin generation), unchanged, invalid (config rejected), failed (new plugins did not start).",
	}, []string{"result"})
	if reg != nil {
		if err := reg.Register(results); err != nil {
			return nil, fmt.Errorf("reload metrics: %w", err)
		}
	}
	for _, r := range []string{reloadOK, reloadUnchanged, reloadInvalid, reloadFailed} {
		results.WithLabelValues(r).Add(0)
	}
	return &reloader{
		paths: paths, load: config.Load, gens: gens, logger: logger,
		results: results, applied: cfg,
	}, nil
}

// Reload loads the config files again and applies their plugin sections
// (plugins, pipeline, resilience.breaker/retry/first_output). trigger
// (signal, admin, file) goes to the log. A reload runs to its end even if
// ctx is cancelled (an admin client hanging up): ctx gives only values.
func (r *reloader) Reload(ctx context.Context, trigger string) (ReloadResult, error) {
	ctx = context.WithoutCancel(ctx)
	if len(r.paths) == 0 {
		return ReloadResult{}, ErrReloadUnavailable
	}
	if !r.mu.TryLock() {
		return ReloadResult{}, ErrReloadBusy
	}
	defer r.mu.Unlock()
	log := r.logger.With("trigger", trigger)
	cfg, err := r.load(r.paths...)
	if err != nil {
		r.results.WithLabelValues(reloadInvalid).Inc()
		log.Warn("config reload rejected, nothing changed", "error", err)
		return ReloadResult{}, fmt.Errorf("%w: %w", ErrReloadInvalid, err)
	}
	res := ReloadResult{NeedsRestart: restartKeys(r.applied, cfg)}
	if len(res.NeedsRestart) > 0 {
		log.Warn("config changes that need a restart were left alone", "keys", strings.Join(res.NeedsRestart, ","))
	}
	cur, n := r.gens.Current()
	next, err := cur.Successor(cfg.Plugins, cfg.Resilience, cfg.Pipeline)
	if err != nil {
		r.results.WithLabelValues(reloadInvalid).Inc()
		log.Warn("config reload rejected, nothing changed", "error", err)
		return ReloadResult{}, fmt.Errorf("%w: %w", ErrReloadInvalid, err)
	}
	res.Started, res.CarriedOver = next.Fresh(), next.CarriedOver()
	if len(res.Started) == 0 && samePlugins(r.applied, cfg) {
		closeUnused(ctx, next)
		r.results.WithLabelValues(reloadUnchanged).Inc()
		res.Generation = n
		log.Info("config reloaded: plugins unchanged", "generation", n)
		return res, nil
	}
	if err := next.Start(ctx); err != nil {
		closeUnused(ctx, next)
		r.results.WithLabelValues(reloadFailed).Inc()
		log.Warn("config reload failed: new plugins did not start, nothing changed", "error", err)
		return ReloadResult{}, fmt.Errorf("%w: %w", ErrReloadStart, err)
	}
	// The replaced generation closes later, in the background, when its
	// last session ends: not bounded by this reload's context.
	res.Generation, err = r.gens.Promote(next, cfg.Plugins.Reload.DrainTimeout) //nolint:contextcheck // see above.
	if err != nil {
		closeUnused(ctx, next)
		return ReloadResult{}, err
	}
	res.Changed = true
	applied := *r.applied
	applied.Plugins, applied.Pipeline = cfg.Plugins, cfg.Pipeline
	applied.Plugins.Reload.Watch = r.applied.Plugins.Reload.Watch
	applied.Resilience.Breaker = cfg.Resilience.Breaker
	applied.Resilience.Retry = cfg.Resilience.Retry
	applied.Resilience.FirstOutput = cfg.Resilience.FirstOutput
	r.applied = &applied
	r.results.WithLabelValues(reloadOK).Inc()
	log.Info("plugins reloaded", "generation", res.Generation,
		"started", strings.Join(res.Started, ","), "carried_over", strings.Join(res.CarriedOver, ","))
	return res, nil
}

// closeUnused closes a successor that did not become a generation (its
// carried-over instances keep running for the current one).
func closeUnused(ctx context.Context, h *pluginhost.Host) {
	ctx, cancel := context.WithTimeout(ctx, unusedCloseTimeout)
	defer cancel()
	_ = h.Close(ctx)
}

// unusedCloseTimeout bounds stopping the processes of a failed reload.
const unusedCloseTimeout = 10 * time.Second

// reloadable are the key prefixes a reload applies; any other changed key
// needs a restart.
var reloadable = []string{ //nolint:gochecknoglobals // a fixed table.
	"plugins.instances", "plugins.health_interval", "plugins.default_start_timeout",
	"plugins.default_restart", "plugins.reload.drain_timeout", "pipeline",
	"resilience.breaker", "resilience.retry", "resilience.first_output",
}

// samePlugins reports whether the reloadable sections of a and b are equal.
func samePlugins(a, b *config.Config) bool {
	for _, k := range changedKeys(a, b) {
		if isReloadable(k) {
			return false
		}
	}
	return true
}

// restartKeys lists the config keys (koanf names) that differ between a
// and b and that a reload does not apply, sorted.
func restartKeys(a, b *config.Config) []string {
	var out []string
	for _, k := range changedKeys(a, b) {
		if !isReloadable(k) {
			out = append(out, k)
		}
	}
	return out
}

// changedKeys lists the config keys (koanf names) that differ between a
// and b, sorted; a reloadable section, a list or a map counts as one key.
func changedKeys(a, b *config.Config) []string {
	var out []string
	diffKeys(reflect.ValueOf(*a), reflect.ValueOf(*b), "", &out)
	sort.Strings(out)
	return out
}

func diffKeys(a, b reflect.Value, prefix string, out *[]string) {
	if isReloadable(prefix) || a.Kind() != reflect.Struct || a.Type() == reflect.TypeFor[time.Time]() {
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, prefix)
		}
		return
	}
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("koanf"), ",")[0]
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		diffKeys(a.Field(i), b.Field(i), key, out)
	}
}

func isReloadable(key string) bool {
	for _, p := range reloadable {
		if key == p || strings.HasPrefix(key, p+".") {
			return true
		}
	}
	return false
}
