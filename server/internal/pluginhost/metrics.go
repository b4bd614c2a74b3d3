package pluginhost

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// Metric and label names.
const (
	labelPlugin = "plugin"
	labelCode   = "code"
)

// metrics are the plugin host's Prometheus collectors.
type metrics struct {
	up         *prometheus.GaugeVec
	restarts   *prometheus.CounterVec
	breaker    *prometheus.GaugeVec
	callErrors *prometheus.CounterVec
	// firstOutputTimeouts counts calls cut off for giving no output in time.
	firstOutputTimeouts *prometheus.CounterVec
}

// newMetrics creates the collectors and registers them on reg. A second
// Host on the same registry (a reload) reuses the collectors already
// registered.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "parley_plugin_up",
			Help: "1 while the plugin process is running and healthy, 0 otherwise.",
		}, []string{labelPlugin}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_plugin_restarts_total",
			Help: "Plugin process restarts after a crash or failed health check.",
		}, []string{labelPlugin}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "parley_plugin_breaker_state",
			Help: "Circuit breaker state of the plugin: 0 closed, 1 half-open, 2 open.",
		}, []string{labelPlugin}),
		callErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_plugin_call_errors_total",
			Help: "Failed plugin calls by sdk error code.",
		}, []string{labelPlugin, labelCode}),
		firstOutputTimeouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_plugin_first_output_timeouts_total",
			Help: "Plugin calls cut off because their first output did not come within resilience.first_output.",
		}, []string{labelPlugin}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.up, err = register(reg, m.up)
	if err != nil {
		return nil, err
	}
	m.restarts, err = register(reg, m.restarts)
	if err != nil {
		return nil, err
	}
	m.breaker, err = register(reg, m.breaker)
	if err != nil {
		return nil, err
	}
	m.callErrors, err = register(reg, m.callErrors)
	if err != nil {
		return nil, err
	}
	m.firstOutputTimeouts, err = register(reg, m.firstOutputTimeouts)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the identical collector registered
// before.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("pluginhost: register metrics: %w", err)
}

// breakerValue is the gauge value of a breaker state.
func breakerValue(s gobreaker.State) float64 {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	default:
		return 0
	}
}
