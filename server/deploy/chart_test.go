// Package deploy_test renders the Helm chart in configs/deploy/helm/parley
// with Helm's own Go library (the engine `helm template` uses) and decodes
// every object strictly into the Kubernetes API types. Helm and the
// Kubernetes types are test-only: nothing shipped links them.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/parleyhq/parley/server/internal/config"
)

// scaledObject is KEDA's keda.sh/v1alpha1 ScaledObject, the fields the
// chart may use (KEDA's own module is far too large to import for a test).
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			Name       string `json:"name"`
			Kind       string `json:"kind,omitempty"`
			APIVersion string `json:"apiVersion,omitempty"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
		CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
		PollingInterval *int32 `json:"pollingInterval,omitempty"`
		Triggers        []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// objects is one rendering, decoded.
type objects struct {
	deployments   []appsv1.Deployment
	services      []corev1.Service
	configMaps    []corev1.ConfigMap
	pdbs          []policyv1.PodDisruptionBudget
	monitors      []monitoringv1.ServiceMonitor
	scaledObjects []scaledObject
}

const chartDir = "../../configs/deploy/helm/parley"

// render renders the chart with the values file (none: the defaults) as
// release "parley" in namespace "voice" and decodes every object.
func render(t *testing.T, valuesFile string) objects {
	t.Helper()
	ch, err := loader.Load(chartDir)
	require.NoError(t, err)
	vals := chartutil.Values{}
	if valuesFile != "" {
		vals, err = chartutil.ReadValuesFile(valuesFile)
		require.NoError(t, err)
	}
	top, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: "parley", Namespace: "voice", Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	require.NoError(t, err)
	files, err := engine.Render(ch, top)
	require.NoError(t, err)
	var out objects
	for name, content := range files {
		if !strings.HasSuffix(name, ".yaml") || strings.TrimSpace(content) == "" {
			continue
		}
		for _, doc := range releaseutil.SplitManifests(content) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			decode(t, name, doc, &out)
		}
	}
	return out
}

// decode strictly decodes doc into its API type: an unknown field or a
// wrong type fails.
func decode(t *testing.T, name, doc string, out *objects) {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(doc))
	require.NoError(t, err, "%s is not YAML:\n%s", name, doc)
	var tm metav1.TypeMeta
	require.NoError(t, json.Unmarshal(js, &tm))
	strict := func(v any) {
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(v), "%s (%s) does not decode strictly:\n%s", name, tm.Kind, doc)
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		var o appsv1.Deployment
		strict(&o)
		out.deployments = append(out.deployments, o)
	case "v1 Service":
		var o corev1.Service
		strict(&o)
		out.services = append(out.services, o)
	case "v1 ConfigMap":
		var o corev1.ConfigMap
		strict(&o)
		out.configMaps = append(out.configMaps, o)
	case "policy/v1 PodDisruptionBudget":
		var o policyv1.PodDisruptionBudget
		strict(&o)
		out.pdbs = append(out.pdbs, o)
	case "monitoring.coreos.com/v1 ServiceMonitor":
		var o monitoringv1.ServiceMonitor
		strict(&o)
		out.monitors = append(out.monitors, o)
	case "keda.sh/v1alpha1 ScaledObject":
		var o scaledObject
		strict(&o)
		out.scaledObjects = append(out.scaledObjects, o)
	default:
		t.Fatalf("%s renders an object the test does not know: %s %s", name, tm.APIVersion, tm.Kind)
	}
}

func container(t *testing.T, d appsv1.Deployment) corev1.Container {
	t.Helper()
	require.Len(t, d.Spec.Template.Spec.Containers, 1)
	return d.Spec.Template.Spec.Containers[0]
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

// TestChartDefaults: the default values render a Deployment, Service,
// ConfigMap and PodDisruptionBudget; the optional objects stay off.
func TestChartDefaults(t *testing.T) {
	o := render(t, "")
	require.Len(t, o.deployments, 1)
	require.Len(t, o.services, 1, "HTTP/WebSocket service only")
	require.Len(t, o.configMaps, 1)
	require.Len(t, o.pdbs, 1)
	assert.Empty(t, o.monitors)
	assert.Empty(t, o.scaledObjects)
	d := o.deployments[0]
	c := container(t, d)
	require.NotNil(t, c.LivenessProbe)
	require.NotNil(t, c.ReadinessProbe)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path, "readiness is separate from liveness")
	require.NotNil(t, c.Lifecycle.PreStop.Exec)
	assert.Equal(t, []string{"sleep", "5"}, c.Lifecycle.PreStop.Exec.Command)
	require.NotNil(t, d.Spec.Template.Spec.TerminationGracePeriodSeconds)
	assert.Equal(t, int64(5+10+600+30), *d.Spec.Template.Spec.TerminationGracePeriodSeconds,
		"grace = preStop + shutdown_delay + drain_timeout + 30 s")
	assert.False(t, d.Spec.Template.Spec.HostNetwork)
	env := envOf(c)
	require.Contains(t, env, "PARLEY_CLUSTER_SECRET")
	assert.Equal(t, "parley-cluster", env["PARLEY_CLUSTER_SECRET"].ValueFrom.SecretKeyRef.Name, "the secret comes from a Secret reference")
	assert.Equal(t, "metadata.name", env["POD_NAME"].ValueFrom.FieldRef.FieldPath)
	var udp bool
	for _, p := range c.Ports {
		udp = udp || (p.Protocol == corev1.ProtocolUDP && p.ContainerPort == 50000)
	}
	assert.True(t, udp, "the WebRTC UDP mux port is exposed")
	loadRendered(t, o)
}

// TestChartFullValues turns every option on.
func TestChartFullValues(t *testing.T) {
	o := render(t, filepath.Join("testdata", "full-values.yaml"))
	require.Len(t, o.deployments, 1)
	require.Len(t, o.services, 2, "HTTP and UDP services")
	require.Len(t, o.monitors, 1)
	require.Len(t, o.scaledObjects, 1)
	d := o.deployments[0]
	spec := d.Spec.Template.Spec
	assert.True(t, spec.HostNetwork)
	assert.Equal(t, corev1.DNSClusterFirstWithHostNet, spec.DNSPolicy)
	require.NotNil(t, spec.Affinity.PodAntiAffinity, "one pod per node on the host network")
	assert.Nil(t, d.Spec.Replicas, "KEDA owns the replica count")
	assert.Equal(t, int64(3+15+1800+30), *spec.TerminationGracePeriodSeconds)
	env := envOf(container(t, d))
	for _, name := range []string{"PARLEY_REDIS__PASSWORD", "PARLEY_AUTH__API_KEYS", "PARLEY_AUTH__ADMIN_KEYS", "ANTHROPIC_API_KEY", "HOST_IP", "PARLEY_WEBRTC__NAT_1TO1_IPS"} {
		assert.Contains(t, env, name)
	}
	assert.Equal(t, "status.hostIP", env["HOST_IP"].ValueFrom.FieldRef.FieldPath, "per-node external IP via webrtc.nat_1to1_ips")
	so := o.scaledObjects[0]
	assert.Equal(t, d.Name, so.Spec.ScaleTargetRef.Name)
	require.Len(t, so.Spec.Triggers, 1)
	assert.Contains(t, so.Spec.Triggers[0].Metadata["query"], "parley_sessions_active")
	assert.Equal(t, "/metrics", o.monitors[0].Spec.Endpoints[0].Path)
	cfg := loadRendered(t, o)
	assert.Equal(t, 500, cfg.Cluster.MaxSessions)
	assert.Equal(t, config.RedisUnavailableRefuse, cfg.Cluster.RedisUnavailable)
	assert.Equal(t, []string{testHostIP}, cfg.WebRTC.NAT1To1IPs, "the node's address (env) wins over the fixed list")
	assert.Equal(t, "debug", string(cfg.Log.Level), "config: merges into the layer")
}

// What the test's kubelet would put into the downward-API variables.
const (
	testPodName = "parley-0"
	testPodIP   = "10.0.0.5"
	testHostIP  = "192.0.2.10"
)

// containerEnv is the environment the kubelet gives the container: values
// with $(VAR) expanded, fields from the downward API, and a dummy value
// for every Secret reference.
func containerEnv(t *testing.T, c corev1.Container) []string {
	t.Helper()
	vals := map[string]string{}
	var out []string
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.ValueFrom == nil:
			v = os.Expand(strings.NewReplacer("$(", "${", ")", "}").Replace(v), func(k string) string { return vals[k] })
		case e.ValueFrom.FieldRef != nil:
			v = map[string]string{"metadata.name": testPodName, "status.podIP": testPodIP, "status.hostIP": testHostIP}[e.ValueFrom.FieldRef.FieldPath]
			require.NotEmpty(t, v, "unexpected field %s", e.ValueFrom.FieldRef.FieldPath)
		case e.ValueFrom.SecretKeyRef != nil:
			v = "from-secret-" + e.ValueFrom.SecretKeyRef.Name + "-" + e.ValueFrom.SecretKeyRef.Key
		default:
			t.Fatalf("env %s: unexpected source", e.Name)
		}
		vals[e.Name] = v
		out = append(out, e.Name+"="+v)
	}
	return out
}

// loadRendered loads the image's configs/parley.yaml with the rendered
// ConfigMap layer and the Deployment's environment, as the container
// starts, and returns the validated result.
func loadRendered(t *testing.T, o objects) *config.Config {
	t.Helper()
	require.Len(t, o.configMaps, 1)
	require.Len(t, o.deployments, 1)
	layer := filepath.Join(t.TempDir(), "parley.yaml")
	require.NoError(t, os.WriteFile(layer, []byte(o.configMaps[0].Data["parley.yaml"]), 0o600))
	d := o.deployments[0]
	c := container(t, d)
	require.Equal(t, []string{"--config", "configs/parley.yaml", "--config", "/etc/parley/parley.yaml"}, c.Args)
	env := containerEnv(t, c)
	// The image's layout is the repository's: configs/parley.yaml names
	// ./bin/models (make models), read from the working directory.
	t.Chdir(filepath.Join("..", ".."))
	cfg, err := config.LoadWith(config.Options{
		Paths:   []string{filepath.Join("configs", "parley.yaml"), layer},
		Environ: func() []string { return env },
	})
	require.NoError(t, err, "the rendered parley.yaml:\n%s", o.configMaps[0].Data["parley.yaml"])
	assert.True(t, cfg.Cluster.Enabled)
	assert.Equal(t, testPodName, cfg.Cluster.NodeID)
	assert.Equal(t, "http://"+testPodIP+":8080", cfg.Cluster.AdvertiseURL)
	assert.Equal(t, config.DrainWait, cfg.HTTP.DrainMode)
	grace := *d.Spec.Template.Spec.TerminationGracePeriodSeconds
	assert.GreaterOrEqual(t, grace, int64((cfg.HTTP.ShutdownDelay + cfg.HTTP.DrainTimeout).Seconds()),
		"the pod's grace period covers shutdown_delay + drain_timeout")
	return cfg
}
