package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FieldError is a rejected configuration value: the key, the value and
// what is allowed.
type FieldError struct {
	Key     string
	Value   string
	Allowed string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("config: %s = %s: %s", e.Key, e.Value, e.Allowed)
}

// Limits used by validation.
const (
	maxPort = 65535
	// maxOpusComplexity is libopus's highest encoder complexity.
	maxOpusComplexity = 10
	maxTemperature    = 2.0
	maxVADThresholdB  = 60.0
	// maxBatchWait bounds vad.batch_wait: the wait adds to the speech
	// decision latency of every window.
	maxBatchWait = 20 * time.Millisecond
	// minMaxUtterance and maxMaxUtterance bound vad.max_utterance.
	minMaxUtterance = time.Second
	maxMaxUtterance = 10 * time.Minute
)

// SupportedSampleRates are the client audio rates Parley accepts.
func SupportedSampleRates() []int { return []int{8000, 16000, 24000, 48000} }

type validator struct{ errs []error }

func (v *validator) fail(key string, value any, allowed string, args ...any) {
	v.errs = append(v.errs, &FieldError{Key: key, Value: fmt.Sprintf("%q", fmt.Sprint(value)), Allowed: fmt.Sprintf(allowed, args...)})
}

func (v *validator) nonNegative(key string, d time.Duration) {
	if d < 0 {
		v.fail(key, d, "must be a duration >= 0")
	}
}

func (v *validator) positive(key string, d time.Duration) {
	if d <= 0 {
		v.fail(key, d, "must be a duration > 0")
	}
}

func (v *validator) atLeast(key string, n, lo int64) {
	if n < lo {
		v.fail(key, n, "must be >= %d", lo)
	}
}

func (v *validator) addr(key, addr string, allowEmpty bool) {
	if addr == "" && allowEmpty {
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.fail(key, addr, "must be host:port (e.g. 127.0.0.1:8080 or :8080)")
		return
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > maxPort {
		v.fail(key, addr, "port must be 0-%d", maxPort)
	}
}

func (v *validator) port(key string, p int) {
	if p < 0 || p > maxPort {
		v.fail(key, p, "must be a port 0-%d", maxPort)
	}
}

func oneOf[T ~string](x T, allowed ...T) bool { return slices.Contains(allowed, x) }

func joinStr[T ~string](xs ...T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

// Validate checks every value and returns all problems at once, each a
// *FieldError naming the key, the value and what is allowed.
func (c *Config) Validate() error {
	v := &validator{}
	c.validateHTTP(v)
	c.validateStreams(v)
	c.validateSession(v)
	c.validateTurn(v)
	c.validatePlugins(v)
	c.validateRest(v)
	c.validateTelephony(v)
	c.validateAuth(v)
	c.validateCluster(v)
	return errors.Join(v.errs...)
}

func (c *Config) validateHTTP(v *validator) {
	v.addr("http.addr", c.HTTP.Addr, false)
	v.positive("http.read_header_timeout", c.HTTP.ReadHeaderTimeout)
	v.positive("http.request_timeout", c.HTTP.RequestTimeout)
	v.nonNegative("http.idle_timeout", c.HTTP.IdleTimeout)
	v.nonNegative("http.drain_timeout", c.HTTP.DrainTimeout)
	v.nonNegative("http.shutdown_delay", c.HTTP.ShutdownDelay)
	if !oneOf(c.HTTP.DrainMode, DrainClose, DrainWait) {
		v.fail("http.drain_mode", c.HTTP.DrainMode, "must be one of %s", joinStr(DrainClose, DrainWait))
	}
	v.atLeast("http.max_body_bytes", c.HTTP.MaxBodyBytes, 1)
	for i, p := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				v.fail(fmt.Sprintf("http.trusted_proxies[%d]", i), p, "must be an IP or CIDR (e.g. 10.0.0.0/8)")
			}
		}
	}
	c.validateTLS(v)
	if c.OpenToAnyone() && !c.Auth.AllowAnonymous {
		v.fail("http.addr", c.HTTP.Addr, "listens beyond loopback with no client authentication, so anyone who reaches it "+
			"can use it and run up the provider bill: set auth.api_keys (%sAUTH__API_KEYS=key1,key2), or listen on loopback "+
			"(e.g. 127.0.0.1:8080), or set auth.allow_anonymous: true (%sAUTH__ALLOW_ANONYMOUS=true) to serve anyone deliberately",
			EnvPrefix, EnvPrefix)
	}
	for i, k := range c.Auth.APIKeys {
		if strings.TrimSpace(k) == "" {
			v.fail(fmt.Sprintf("auth.api_keys[%d]", i), "", "must not be empty")
		}
	}
	for i, o := range c.Auth.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			v.fail(fmt.Sprintf("auth.allowed_origins[%d]", i), o, "must be an origin like https://app.example.com, or *")
		}
	}
}

func (c *Config) validateTLS(v *validator) {
	t := c.HTTP.TLS
	if t.Enabled() {
		for _, f := range []struct{ key, path string }{{"http.tls.cert_file", t.CertFile}, {"http.tls.key_file", t.KeyFile}} {
			if f.path == "" {
				v.fail(f.key, "", "must be set when the other of http.tls.cert_file / http.tls.key_file is")
				continue
			}
			v.readable(f.key, f.path)
		}
	}
	if t.ClientCAFile != "" {
		if !t.Enabled() {
			v.fail("http.tls.client_ca_file", t.ClientCAFile, "needs http.tls.cert_file and http.tls.key_file (client certificates need TLS)")
		} else {
			v.readable("http.tls.client_ca_file", t.ClientCAFile)
		}
	}
	v.nonNegative("http.tls.reload_interval", t.ReloadInterval)
}

// readable fails unless path is a readable regular file.
func (v *validator) readable(key, path string) {
	f, err := os.Open(path)
	if err != nil {
		v.fail(key, path, "must be a readable file: %s", errors.Unwrap(err))
		return
	}
	_ = f.Close()
}

// OpenToAnyone reports whether the server listens beyond loopback without
// requiring client credentials (API keys or client tokens).
func (c *Config) OpenToAnyone() bool {
	return !IsLoopbackAddr(c.HTTP.Addr) && len(c.Auth.APIKeys) == 0 && !c.Auth.Tokens.Enabled()
}

// IsLoopbackAddr reports whether host:port listens on loopback only: a
// loopback IP or "localhost". An empty host (all interfaces) and any other
// name are not loopback.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func (c *Config) validateStreams(v *validator) {
	ws := c.WebSocket
	v.atLeast("websocket.max_message_bytes", ws.MaxMessageBytes, 1)
	v.atLeast("websocket.max_messages_per_second", int64(ws.MaxMessagesPerSecond), 1)
	v.atLeast("websocket.send_buffer", int64(ws.SendBuffer), 1)
	v.positive("websocket.write_timeout", ws.WriteTimeout)
	v.nonNegative("websocket.ping_interval", ws.PingInterval)

	rtc := c.WebRTC
	v.port("webrtc.udp_port_min", rtc.UDPPortMin)
	v.port("webrtc.udp_port_max", rtc.UDPPortMax)
	v.port("webrtc.udp_mux_port", rtc.UDPMuxPort)
	if rtc.UDPPortMax < rtc.UDPPortMin {
		v.fail("webrtc.udp_port_max", rtc.UDPPortMax, "must be >= webrtc.udp_port_min (%d)", rtc.UDPPortMin)
	}
	v.positive("webrtc.disconnected_timeout", rtc.DisconnectedTimeout)
	v.positive("webrtc.failed_timeout", rtc.FailedTimeout)
	v.atLeast("webrtc.max_offer_bytes", rtc.MaxOfferBytes, 1)
	if rtc.OpusComplexity < 0 || rtc.OpusComplexity > maxOpusComplexity {
		v.fail("webrtc.opus_complexity", rtc.OpusComplexity, "must be 0..%d", maxOpusComplexity)
	}
	for i, ip := range rtc.NAT1To1IPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			v.fail(fmt.Sprintf("webrtc.nat_1to1_ips[%d]", i), ip, "must be an IP address")
		}
	}
	for i, s := range rtc.ICEServers {
		validateICEServer(v, fmt.Sprintf("webrtc.ice_servers[%d]", i), s)
	}
}

// validateICEServer checks one webrtc.ice_servers entry: its URLs, and
// that a TURN server has credentials of exactly one kind.
func validateICEServer(v *validator, key string, s ICEServer) {
	if len(s.URLs) == 0 {
		v.fail(key+".urls", "", "must list at least one stun:/turn: URL")
	}
	turn := false
	for j, u := range s.URLs {
		switch {
		case strings.HasPrefix(u, "turn:"), strings.HasPrefix(u, "turns:"):
			turn = true
		case strings.HasPrefix(u, "stun:"):
			if s.HMAC() {
				v.fail(fmt.Sprintf("%s.urls[%d]", key, j), u, "must be a turn: or turns: URL with credential_type hmac (STUN takes no credentials: list it in its own entry)")
			}
		default:
			v.fail(fmt.Sprintf("%s.urls[%d]", key, j), u, "must start with stun:, turn: or turns:")
		}
	}
	switch s.CredentialType {
	case ICECredentialHMAC:
		switch {
		case s.SecretEnv == "":
			v.fail(key+".secret_env", "", "must name the environment variable holding the secret shared with the TURN server (credential_type hmac)")
		case strings.HasPrefix(s.SecretEnv, EnvPrefix):
			v.fail(key+".secret_env", s.SecretEnv, "must not start with %s (those variables are Parley settings)", EnvPrefix)
		case len(s.Secret) == 0:
			v.fail(key+".secret_env", s.SecretEnv, "names an environment variable that is not set or empty")
		}
		if s.Username != "" || s.Credential != "" {
			v.fail(key+".username", s.Username, "must be empty with credential_type hmac (username and credential are issued)")
		}
		if s.TTL != 0 && s.TTL < time.Second {
			v.fail(key+".ttl", s.TTL, "must be 0 (%s) or at least 1s", DefaultICECredentialTTL)
		}
	case "", ICECredentialStatic:
		if s.SecretEnv != "" {
			v.fail(key+".secret_env", s.SecretEnv, "needs credential_type hmac")
		}
		if s.TTL != 0 {
			v.fail(key+".ttl", s.TTL, "needs credential_type hmac")
		}
		if turn && (s.Username == "" || s.Credential == "") {
			v.fail(key+".username", s.Username, "a TURN server needs username and credential, or credential_type hmac with secret_env")
		}
	default:
		v.fail(key+".credential_type", s.CredentialType, "must be one of: %s", joinStr(ICECredentialStatic, ICECredentialHMAC))
	}
}

func (c *Config) validateSession(v *validator) {
	s := c.Session
	v.atLeast("session.max_sessions", int64(s.MaxSessions), 1)
	v.atLeast("session.max_sessions_per_ip", int64(s.MaxSessionsPerIP), 1)
	if !slices.Contains(SupportedSampleRates(), s.OutputSampleRate) {
		v.fail("session.output_sample_rate", s.OutputSampleRate, "must be one of %v", SupportedSampleRates())
	}
	v.nonNegative("session.interrupt_after", s.InterruptAfter)
	v.atLeast("session.max_tool_rounds", int64(s.MaxToolRounds), 1)
	v.positive("session.client_tool_timeout", s.ClientToolTimeout)
	v.atLeast("session.max_history", int64(s.MaxHistory), 2)
	v.atLeast("session.max_tokens", int64(s.MaxTokens), 1)
	if s.Temperature < 0 || s.Temperature > maxTemperature {
		v.fail("session.temperature", s.Temperature, "must be between 0 and %.1f", maxTemperature)
	}
	v.nonNegative("session.output_lookahead", s.OutputLookahead)
	v.positive("session.idle_timeout", s.IdleTimeout)

	d := c.VAD
	validateVADEngine(v, d)
	if d.Threshold <= 0 || d.Threshold > maxVADThresholdB {
		v.fail("vad.threshold", d.Threshold, "must be in (0, %.0f] dB above the noise floor", maxVADThresholdB)
	}
	v.positive("vad.min_speech", d.MinSpeech)
	v.positive("vad.min_silence", d.MinSilence)
	v.nonNegative("vad.pre_roll", d.PreRoll)
	v.positive("vad.min_silence_min", d.MinSilenceMin)
	if d.MinSilenceMax < d.MinSilenceMin {
		v.fail("vad.min_silence_max", d.MinSilenceMax, "must be >= vad.min_silence_min (%s)", d.MinSilenceMin)
	}
	if d.MinSilence < d.MinSilenceMin || d.MinSilence > d.MinSilenceMax {
		v.fail("vad.min_silence", d.MinSilence, "must be within [%s, %s]", d.MinSilenceMin, d.MinSilenceMax)
	}
	if d.ThresholdMin <= 0 || d.ThresholdMin > maxVADThresholdB {
		v.fail("vad.threshold_min", d.ThresholdMin, "must be in (0, %.0f] dB above the noise floor", maxVADThresholdB)
	}
	if d.ThresholdMax < d.ThresholdMin || d.ThresholdMax > maxVADThresholdB {
		v.fail("vad.threshold_max", d.ThresholdMax, "must be within [vad.threshold_min (%g), %.0f] dB", d.ThresholdMin, maxVADThresholdB)
	}
	if d.Threshold < d.ThresholdMin || d.Threshold > d.ThresholdMax {
		v.fail("vad.threshold", d.Threshold, "must be within [%g, %g] dB", d.ThresholdMin, d.ThresholdMax)
	}
	v.positive("vad.min_speech_min", d.MinSpeechMin)
	if d.MinSpeechMax < d.MinSpeechMin {
		v.fail("vad.min_speech_max", d.MinSpeechMax, "must be >= vad.min_speech_min (%s)", d.MinSpeechMin)
	}
	if d.MinSpeech < d.MinSpeechMin || d.MinSpeech > d.MinSpeechMax {
		v.fail("vad.min_speech", d.MinSpeech, "must be within [%s, %s]", d.MinSpeechMin, d.MinSpeechMax)
	}
}

// validateVADEngine checks the engine and, for silero, that its files are
// readable and its probabilities ordered.
func validateVADEngine(v *validator, d VAD) {
	switch d.Engine {
	case VADEnergy:
	case VADSilero:
		if d.ModelPath == "" {
			v.fail("vad.model_path", d.ModelPath, "must name the Silero VAD v5 ONNX model with vad.engine silero (make build fetches it to ./bin/models/silero_vad_v5.onnx)")
		} else {
			v.readable("vad.model_path", d.ModelPath)
		}
		if d.ONNXRuntimePath == "" {
			v.fail("vad.onnxruntime_path", d.ONNXRuntimePath, "must name the ONNX Runtime library with vad.engine silero (make build fetches it to ./bin/models/libonnxruntime.so.1)")
		} else {
			v.readable("vad.onnxruntime_path", d.ONNXRuntimePath)
		}
	default:
		v.fail("vad.engine", d.Engine, "must be one of %s", joinStr(VADEnergy, VADSilero))
	}
	if d.EnterProbability <= 0 || d.EnterProbability >= 1 {
		v.fail("vad.enter_probability", d.EnterProbability, "must be in (0, 1)")
	}
	if d.ExitProbability <= 0 || d.ExitProbability > d.EnterProbability {
		v.fail("vad.exit_probability", d.ExitProbability, "must be in (0, vad.enter_probability (%g)]", d.EnterProbability)
	}
	if d.BatchWait < 0 || d.BatchWait > maxBatchWait {
		v.fail("vad.batch_wait", d.BatchWait, "must be within [0s, %s]", maxBatchWait)
	}
	if d.MaxUtterance < minMaxUtterance || d.MaxUtterance > maxMaxUtterance {
		v.fail("vad.max_utterance", d.MaxUtterance, "must be within [%s, %s]", minMaxUtterance, maxMaxUtterance)
	}
}

func (c *Config) validatePlugins(v *validator) {
	p := c.Plugins
	v.positive("plugins.health_interval", p.HealthInterval)
	v.positive("plugins.default_start_timeout", p.DefaultStartTimeout)
	validateRestart(v, "plugins.default_restart", p.DefaultRestart)
	v.nonNegative("plugins.reload.drain_timeout", p.Reload.DrainTimeout)
	names := map[string]PluginKind{}
	for i, in := range p.Instances {
		key := fmt.Sprintf("plugins.instances[%d]", i)
		switch {
		case in.Name == "":
			v.fail(key+".name", in.Name, "must not be empty")
		case names[in.Name] != "":
			v.fail(key+".name", in.Name, "must be unique")
		}
		names[in.Name] = in.Kind
		if !oneOf(in.Kind, KindSTT, KindLLM, KindTTS) {
			v.fail(key+".kind", in.Kind, "must be one of %s", joinStr(KindSTT, KindLLM, KindTTS))
		}
		if in.Path == "" {
			v.fail(key+".path", in.Path, "must name the plugin binary")
		}
		if in.SHA256 != "" {
			if b, err := hex.DecodeString(in.SHA256); err != nil || len(b) != 32 {
				v.fail(key+".sha256", in.SHA256, "must be 64 hex digits")
			}
		}
		v.nonNegative(key+".start_timeout", in.StartTimeout)
		validateRestart(v, key+".restart", in.Restart)
	}
	for _, chain := range []struct {
		key   string
		kind  PluginKind
		names []string
	}{{"pipeline.stt", KindSTT, c.Pipeline.STT}, {"pipeline.llm", KindLLM, c.Pipeline.LLM}, {"pipeline.tts", KindTTS, c.Pipeline.TTS}} {
		for i, n := range chain.names {
			k, ok := names[n]
			switch {
			case !ok:
				v.fail(fmt.Sprintf("%s[%d]", chain.key, i), n, "must name a plugin in plugins.instances")
			case k != chain.kind:
				v.fail(fmt.Sprintf("%s[%d]", chain.key, i), n, "is a %s plugin, want %s", k, chain.kind)
			}
		}
	}
	r := c.Resilience
	v.atLeast("resilience.breaker.consecutive_failures", int64(r.Breaker.ConsecutiveFailures), 1)
	v.positive("resilience.breaker.open_timeout", r.Breaker.OpenTimeout)
	v.atLeast("resilience.breaker.half_open_requests", int64(r.Breaker.HalfOpenRequests), 1)
	v.nonNegative("resilience.breaker.interval", r.Breaker.Interval)
	v.atLeast("resilience.retry.max_attempts", int64(r.Retry.MaxAttempts), 1)
	v.nonNegative("resilience.retry.initial_backoff", r.Retry.InitialBackoff)
	v.nonNegative("resilience.retry.max_backoff", r.Retry.MaxBackoff)
	if r.Retry.Multiplier < 1 {
		v.fail("resilience.retry.multiplier", r.Retry.Multiplier, "must be >= 1")
	}
	v.nonNegative("resilience.first_output.stt", r.FirstOutput.STT)
	v.nonNegative("resilience.first_output.llm", r.FirstOutput.LLM)
	v.nonNegative("resilience.first_output.tts", r.FirstOutput.TTS)
	v.nonNegative("resilience.stt_recover_timeout", r.STTRecoverTimeout)
	v.nonNegative("resilience.tts_recover_timeout", r.TTSRecoverTimeout)
}

func validateRestart(v *validator, key string, r Restart) {
	v.atLeast(key+".max_restarts", int64(r.MaxRestarts), 0)
	v.nonNegative(key+".window", r.Window)
	v.nonNegative(key+".initial_backoff", r.InitialBackoff)
	v.nonNegative(key+".max_backoff", r.MaxBackoff)
}

// The bounds of telemetry.gc_percent: below 10 the collector runs nearly
// all the time; above 1000 the heap is left to grow tenfold.
const (
	minGCPercent = 10
	maxGCPercent = 1000
)

func (c *Config) validateRest(v *validator) {
	builtin := []string{"get_current_time", "end_session", "calculator"}
	for i, b := range c.Tools.Builtin {
		if !slices.Contains(builtin, b) {
			v.fail(fmt.Sprintf("tools.builtin[%d]", i), b, "must be one of %s", strings.Join(builtin, ", "))
		}
	}
	if c.Tools.Timezone != "" {
		if _, err := time.LoadLocation(c.Tools.Timezone); err != nil {
			v.fail("tools.timezone", c.Tools.Timezone, "must be an IANA time zone name or Local")
		}
	}
	for i, w := range c.Tools.Webhooks {
		key := fmt.Sprintf("tools.webhooks[%d]", i)
		if w.Name == "" || slices.Contains(builtin, w.Name) {
			v.fail(key+".name", w.Name, "must be non-empty and not a built-in tool name")
		}
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.fail(key+".url", w.URL, "must be an http(s) URL")
		}
		v.nonNegative(key+".timeout", w.Timeout)
		v.atLeast(key+".max_response_bytes", w.MaxResponseBytes, 0)
	}
	c.validateMCP(v, builtin)
	rl := c.RateLimit
	v.atLeast("rate_limit.requests_per_minute", int64(rl.RequestsPerMinute), 1)
	v.atLeast("rate_limit.burst", int64(rl.Burst), 1)
	if !oneOf(rl.Backend, RateLimitMemory, RateLimitRedis) {
		v.fail("rate_limit.backend", rl.Backend, "must be one of %s", joinStr(RateLimitMemory, RateLimitRedis))
	}
	if rl.Backend == RateLimitRedis {
		v.addr("redis.addr", c.Redis.Addr, false)
	}
	v.atLeast("redis.db", int64(c.Redis.DB), 0)
	if !oneOf(c.Log.Level, LevelDebug, LevelInfo, LevelWarn, LevelError) {
		v.fail("log.level", c.Log.Level, "must be one of %s", joinStr(LevelDebug, LevelInfo, LevelWarn, LevelError))
	}
	if !oneOf(c.Log.Format, FormatAuto, FormatJSON, FormatText) {
		v.fail("log.format", c.Log.Format, "must be one of %s", joinStr(FormatAuto, FormatJSON, FormatText))
	}
	v.positive("telemetry.memory_sample_interval", c.Telemetry.MemorySampleInterval)
	if g := c.Telemetry.GCPercent; g != 0 && (g < minGCPercent || g > maxGCPercent) {
		v.fail("telemetry.gc_percent", g, "must be 0 (the Go runtime's own) or %d..%d", minGCPercent, maxGCPercent)
	}
	c.validateTracing(v)
	c.validateRecording(v)
	if a := c.Telemetry.PprofAddr; a != "" && !IsLoopbackAddr(a) {
		v.fail("telemetry.pprof_addr", a, "must be a loopback host:port (profiles show the server's internals; reach them over SSH)")
	}
}

func (c *Config) validateRecording(v *validator) {
	r := c.Recording
	v.nonNegative("recording.retention", r.Retention)
	if !oneOf(r.Default, RecordOptIn, RecordOptOut) {
		v.fail("recording.default", r.Default, "must be one of %s", joinStr(RecordOptIn, RecordOptOut))
	}
	v.atLeast("recording.queue_frames", int64(r.QueueFrames), 1)
	if r.Enabled && r.Dir == "" {
		v.fail("recording.dir", r.Dir, "must be set when recording.enabled is true")
	}
}

func (c *Config) validateMCP(v *validator, builtin []string) {
	names := map[string]bool{}
	for i, m := range c.Tools.MCP {
		key := fmt.Sprintf("tools.mcp[%d]", i)
		switch {
		case m.Name == "" || !validToolName(m.Name):
			v.fail(key+".name", m.Name, "must be 1 to 64 of a-z A-Z 0-9 _ -")
		case names[m.Name]:
			v.fail(key+".name", m.Name, "must be unique among tools.mcp")
		}
		names[m.Name] = true
		switch {
		case (m.URL == "") == (m.Command == ""):
			v.fail(key, m.Name, "must set exactly one of url (Streamable HTTP) and command (stdio)")
		case m.URL != "":
			if u, err := url.Parse(m.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.fail(key+".url", m.URL, "must be an http(s) URL")
			}
		}
		if m.Prefix != "" && m.Prefix != "-" && !validToolName(m.Prefix) {
			v.fail(key+".prefix", m.Prefix, "must be made of a-z A-Z 0-9 _ - (or \"-\" for none)")
		}
		for j, t := range m.AllowedTools {
			if slices.Contains(builtin, t) && (m.Prefix == "-") {
				v.fail(fmt.Sprintf("%s.allowed_tools[%d]", key, j), t, "must not shadow a built-in tool without a prefix")
			}
		}
		v.nonNegative(key+".timeout", m.Timeout)
		v.nonNegative(key+".list_ttl", m.ListTTL)
		v.atLeast(key+".max_result_bytes", m.MaxResultBytes, 0)
	}
}

// validToolName is what LLM providers accept as a tool name.
func validToolName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !ok {
			return false
		}
	}
	return true
}
