package pluginhost

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsSurviveASecondHostOnTheSameRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := newMetrics(reg)
	require.NoError(t, err)
	second, err := newMetrics(reg)
	require.NoError(t, err, "a reload builds a new Host on the same registry")
	second.restarts.WithLabelValues("p").Inc()
	assert.Equal(t, 1.0, testutil.ToFloat64(first.restarts.WithLabelValues("p")), "both hosts share the collectors")

	n, err := testutil.GatherAndCount(reg, "parley_plugin_restarts_total")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestBreakerValue(t *testing.T) {
	assert.Equal(t, 0.0, breakerValue(gobreaker.StateClosed))
	assert.Equal(t, 1.0, breakerValue(gobreaker.StateHalfOpen))
	assert.Equal(t, 2.0, breakerValue(gobreaker.StateOpen))
}
