// Package config loads Parley's configuration in layers — code defaults <
// YAML file < .env in the working directory < environment (PARLEY_ prefix,
// "__" for nesting) — into typed structs, rejects unknown keys and
// validates values. It is the only package that reads files or the
// environment for settings; everything else receives its slice of Config.
package config

import "time"

// Config is Parley's whole configuration.
type Config struct {
	HTTP       HTTP       `koanf:"http"`
	Auth       Auth       `koanf:"auth"`
	WebSocket  WebSocket  `koanf:"websocket"`
	WebRTC     WebRTC     `koanf:"webrtc"`
	Session    Session    `koanf:"session"`
	VAD        VAD        `koanf:"vad"`
	Turn       Turn       `koanf:"turn"`
	Plugins    Plugins    `koanf:"plugins"`
	Pipeline   Pipeline   `koanf:"pipeline"`
	Resilience Resilience `koanf:"resilience"`
	Tools      Tools      `koanf:"tools"`
	RateLimit  RateLimit  `koanf:"rate_limit"`
	Redis      Redis      `koanf:"redis"`
	Log        Log        `koanf:"log"`
	Telemetry  Telemetry  `koanf:"telemetry"`
	Telephony  Telephony  `koanf:"telephony"`
	Cluster    Cluster    `koanf:"cluster"`
	Recording  Recording  `koanf:"recording"`
	// tokenKeyErr is why Auth.Tokens.SecretEnv's value did not parse.
	tokenKeyErr error
	// Secrets holds the provider keys found in the environment under their
	// conventional names (ANTHROPIC_API_KEY, …). Never logged or printed.
	Secrets Secrets `koanf:"-"`
}

// HTTP configures the listener and plain routes.
type HTTP struct {
	// Addr is host:port to listen on.
	Addr              string        `koanf:"addr"`
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	// RequestTimeout bounds plain (non-streaming) routes.
	RequestTimeout time.Duration `koanf:"request_timeout"`
	IdleTimeout    time.Duration `koanf:"idle_timeout"`
	// MaxBodyBytes caps request bodies on plain routes.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// DrainTimeout bounds graceful shutdown after SIGINT/SIGTERM: with
	// DrainMode wait, how long live sessions may go on before they are
	// ended.
	DrainTimeout time.Duration `koanf:"drain_timeout"`
	// ShutdownDelay is how long after SIGTERM the server still admits new
	// sessions while /readyz already answers 503, so that load balancers
	// take it out of rotation first.
	ShutdownDelay time.Duration `koanf:"shutdown_delay"`
	// DrainMode is what SIGTERM does to live sessions: close (end them at
	// once) or wait (let them finish within DrainTimeout).
	DrainMode DrainMode `koanf:"drain_mode"`
	// TrustedProxies are CIDRs whose X-Forwarded-For/X-Real-IP is believed.
	TrustedProxies []string `koanf:"trusted_proxies"`
	// TLS, when CertFile and KeyFile are set, makes Parley terminate TLS
	// itself.
	TLS TLS `koanf:"tls"`
}

// DrainMode is what a shutdown does to live sessions.
type DrainMode string

// The http.drain_mode values.
const (
	// DrainClose ends live sessions at once (close reason "server
	// shutting down").
	DrainClose DrainMode = "close"
	// DrainWait lets live sessions finish by themselves within
	// http.drain_timeout, then ends the rest ("server shutting down").
	DrainWait DrainMode = "wait"
)

// TLS configures HTTPS served by Parley itself (not needed behind a
// TLS-terminating proxy).
type TLS struct {
	// CertFile and KeyFile are PEM files (the certificate file may hold the
	// chain). Both or neither. Reloaded on SIGHUP and when they change.
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
	// ClientCAFile, when set, is a PEM bundle of CAs whose client
	// certificates the admin routes (/v1/plugins) require (mTLS). Other
	// routes do not ask browsers for a certificate.
	ClientCAFile string `koanf:"client_ca_file"`
	// ReloadInterval is how often the certificate files are checked for a
	// change (0 = only on SIGHUP).
	ReloadInterval time.Duration `koanf:"reload_interval"`
}

// Enabled reports whether Parley terminates TLS itself.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Auth is access control for the voice endpoints.
type Auth struct {
	// APIKeys, when non-empty, are required as `Authorization: Bearer` or a
	// `token` query parameter. Secret: redacted when printed.
	APIKeys []string `koanf:"api_keys"`
	// AllowedOrigins are the browser origins allowed (CORS and the WebSocket
	// Origin check), e.g. "https://app.example.com" or "*". Requests from
	// the server's own host are always allowed.
	AllowedOrigins []string `koanf:"allowed_origins"`
	// AllowAnonymous lets Parley listen beyond loopback without client
	// authentication (no APIKeys). Off by default: such a server refuses
	// to start, since anyone reaching the port could run up the provider
	// bill. On, it starts and logs a warning.
	AllowAnonymous bool `koanf:"allow_anonymous"`
	// AdminKeys guard the admin API (/v1/sessions, /v1/admin/…) as
	// `Authorization: Bearer`; empty turns the admin API off. Separate from
	// APIKeys. Secret: redacted when printed.
	AdminKeys []string `koanf:"admin_keys"`
	// Tokens configures short-lived client tokens.
	Tokens Tokens `koanf:"tokens"`
}

// WebSocket configures /ws/voice.
type WebSocket struct {
	// MaxMessageBytes caps one incoming message (text or binary).
	MaxMessageBytes int64 `koanf:"max_message_bytes"`
	// MaxMessagesPerSecond caps incoming messages; beyond it the connection
	// is closed with a policy-violation code.
	MaxMessagesPerSecond int `koanf:"max_messages_per_second"`
	// SendBuffer is the number of outgoing messages queued per connection
	// before the client is considered too slow and is disconnected.
	SendBuffer   int           `koanf:"send_buffer"`
	WriteTimeout time.Duration `koanf:"write_timeout"`
	PingInterval time.Duration `koanf:"ping_interval"`
}

// ICECredentialType says where an ICE server's username and credential
// come from.
type ICECredentialType string

// The ICE credential types.
const (
	// ICECredentialStatic uses Username and Credential as configured (the
	// default when credential_type is empty).
	ICECredentialStatic ICECredentialType = "static"
	// ICECredentialHMAC issues time-limited TURN credentials from a secret
	// shared with the TURN server (coturn use-auth-secret, the "TURN REST
	// API"): fresh ones for every client and every peer connection.
	ICECredentialHMAC ICECredentialType = "hmac"
)

// DefaultICECredentialTTL is how long an hmac credential is valid when ttl
// is 0.
const DefaultICECredentialTTL = time.Hour

// ICEServer is a STUN or TURN server.
type ICEServer struct {
	URLs []string `koanf:"urls"`
	// Username and Credential are the static credentials of a TURN server.
	// Credential is secret: redacted when printed.
	Username   string `koanf:"username"`
	Credential string `koanf:"credential"`
	// CredentialType is static (default) or hmac.
	CredentialType ICECredentialType `koanf:"credential_type"`
	// SecretEnv names the environment variable holding the secret shared
	// with the TURN server (hmac only).
	SecretEnv string `koanf:"secret_env"`
	// TTL is how long an issued hmac credential is valid (0 =
	// DefaultICECredentialTTL).
	TTL time.Duration `koanf:"ttl"`
	// Secret is resolved from SecretEnv. Secret: never printed or logged.
	Secret []byte `koanf:"-"`
}

// HMAC reports whether the server's credentials are issued from a shared
// secret.
func (s ICEServer) HMAC() bool { return s.CredentialType == ICECredentialHMAC }

// CredentialTTL is TTL, or DefaultICECredentialTTL when TTL is 0.
func (s ICEServer) CredentialTTL() time.Duration {
	if s.TTL == 0 {
		return DefaultICECredentialTTL
	}
	return s.TTL
}

// WebRTC configures the pion transport.
type WebRTC struct {
	Enabled    bool        `koanf:"enabled"`
	ICEServers []ICEServer `koanf:"ice_servers"`
	// NAT1To1IPs are public IPs mapped 1:1 to this host.
	NAT1To1IPs []string `koanf:"nat_1to1_ips"`
	// UDPPortMin/Max bound ephemeral UDP ports (0 = any).
	UDPPortMin int `koanf:"udp_port_min"`
	UDPPortMax int `koanf:"udp_port_max"`
	// UDPMuxPort, when non-zero, serves all peers on one UDP port.
	UDPMuxPort int `koanf:"udp_mux_port"`
	// Interfaces limits ICE gathering to these interface names.
	Interfaces []string `koanf:"interfaces"`
	// IncludeLoopback offers 127.0.0.1 candidates (tests, local use).
	IncludeLoopback bool `koanf:"include_loopback"`
	// DisconnectedTimeout/FailedTimeout tune ICE liveness.
	DisconnectedTimeout time.Duration `koanf:"disconnected_timeout"`
	FailedTimeout       time.Duration `koanf:"failed_timeout"`
	// MaxOfferBytes caps the SDP offer body.
	MaxOfferBytes int64 `koanf:"max_offer_bytes"`
	// DTX asks clients for Opus discontinuous transmission (usedtx=1): no
	// packets in silence but one every 400 ms; the server fills the pauses
	// with silence.
	DTX bool `koanf:"dtx"`
	// OpusComplexity is the agent audio encoder's complexity, 0..10
	// (libopus): CPU per speaking session against quality.
	OpusComplexity int `koanf:"opus_complexity"`
}

// Session configures conversations and admission.
type Session struct {
	MaxSessions      int    `koanf:"max_sessions"`
	MaxSessionsPerIP int    `koanf:"max_sessions_per_ip"`
	SystemPrompt     string `koanf:"system_prompt"`
	Voice            string `koanf:"voice"`
	Language         string `koanf:"language"`
	// OutputSampleRate is the default rate of agent audio sent to clients.
	OutputSampleRate int `koanf:"output_sample_rate"`
	// InterruptAfter is how long the user must speak over the agent before
	// it counts as a barge-in.
	InterruptAfter time.Duration `koanf:"interrupt_after"`
	// MaxToolRounds caps LLM↔tool round trips per turn.
	MaxToolRounds int `koanf:"max_tool_rounds"`
	// ClientToolTimeout bounds a client-side tool call.
	ClientToolTimeout time.Duration `koanf:"client_tool_timeout"`
	// MaxHistory caps the messages kept in a session's history.
	MaxHistory int `koanf:"max_history"`
	// MaxTokens and Temperature are passed to the LLM.
	MaxTokens   int     `koanf:"max_tokens"`
	Temperature float32 `koanf:"temperature"`
	// OutputLookahead is how much agent audio is sent ahead of real time.
	OutputLookahead time.Duration `koanf:"output_lookahead"`
	// IdleTimeout ends a session with no client traffic.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
}

// VAD configures voice activity detection. Clients may narrow these within
// the Min/Max limits.
type VAD struct {
	// Engine is the per-frame speech detector: energy (built in, pure Go)
	// or silero (Silero VAD v5 through ONNX Runtime; needs ModelPath and
	// ONNXRuntimePath).
	Engine VADEngine `koanf:"engine"`
	// ModelPath is the Silero VAD v5 ONNX model (engine silero).
	ModelPath string `koanf:"model_path"`
	// ONNXRuntimePath is the ONNX Runtime shared library (>= 1.24) loaded
	// at start-up (engine silero).
	ONNXRuntimePath string `koanf:"onnxruntime_path"`
	// EnterProbability is the speech probability at or above which a
	// silent stream turns to speech (engine silero).
	EnterProbability float64 `koanf:"enter_probability"`
	// ExitProbability is the probability below which speech turns to
	// silence (engine silero); at most EnterProbability.
	ExitProbability float64 `koanf:"exit_probability"`
	// BatchWait is how long the Silero engine holds a window to batch it
	// with other sessions' windows; it never waits once every session
	// heard lately has sent its window.
	BatchWait time.Duration `koanf:"batch_wait"`
	// MaxUtterance ends a speech run that lasted this long with a forced
	// stop, whichever engine runs, so babble or steady noise cannot hold
	// a turn open forever.
	MaxUtterance time.Duration `koanf:"max_utterance"`
	// Threshold is the speech decision threshold in dB above the adaptive
	// noise floor (engine energy).
	Threshold float64 `koanf:"threshold"`
	// MinSpeech is the speech needed to declare speech started.
	MinSpeech time.Duration `koanf:"min_speech"`
	// MinSilence is the silence needed to declare the end of a turn.
	MinSilence time.Duration `koanf:"min_silence"`
	// PreRoll is audio kept before speech start and sent to STT.
	PreRoll time.Duration `koanf:"pre_roll"`
	// Limits bound what clients may set with session.update.
	MinSilenceMin time.Duration `koanf:"min_silence_min"`
	MinSilenceMax time.Duration `koanf:"min_silence_max"`
	// ThresholdMin and ThresholdMax bound the client's vad.threshold_db
	// (dB above the noise floor).
	ThresholdMin float64 `koanf:"threshold_min"`
	ThresholdMax float64 `koanf:"threshold_max"`
	// MinSpeechMin and MinSpeechMax bound the client's vad.min_speech_ms.
	MinSpeechMin time.Duration `koanf:"min_speech_min"`
	MinSpeechMax time.Duration `koanf:"min_speech_max"`
}

// VADEngine names a speech detector.
type VADEngine string

// The VAD engines.
const (
	VADEnergy VADEngine = "energy"
	VADSilero VADEngine = "silero"
)

// PluginKind is stt, llm or tts.
type PluginKind string

// The plugin kinds.
const (
	KindSTT PluginKind = "stt"
	KindLLM PluginKind = "llm"
	KindTTS PluginKind = "tts"
)

// Restart is a plugin's restart policy after a crash.
type Restart struct {
	// MaxRestarts in Window before the plugin is left stopped (0 = always).
	MaxRestarts    int           `koanf:"max_restarts"`
	Window         time.Duration `koanf:"window"`
	InitialBackoff time.Duration `koanf:"initial_backoff"`
	MaxBackoff     time.Duration `koanf:"max_backoff"`
}

// Instance is one configured plugin process.
type Instance struct {
	Name string     `koanf:"name"`
	Kind PluginKind `koanf:"kind"`
	Path string     `koanf:"path"`
	Args []string   `koanf:"args"`
	// Env names environment variables passed to the plugin (the host's
	// environment is otherwise not leaked). Their values are in EnvValues.
	Env []string `koanf:"env"`
	// EnvValues are the values of Env, resolved by Load. Secret.
	EnvValues map[string]string `koanf:"-"`
	// SHA256 pins the binary's checksum (hex).
	SHA256 string `koanf:"sha256"`
	// Config is passed as JSON to the plugin's Configure.
	Config       map[string]any `koanf:"config"`
	StartTimeout time.Duration  `koanf:"start_timeout"`
	Restart      Restart        `koanf:"restart"`
}

// Plugins lists plugin processes.
type Plugins struct {
	Instances []Instance `koanf:"instances"`
	// HealthInterval is how often running plugins are pinged.
	HealthInterval time.Duration `koanf:"health_interval"`
	// DefaultStartTimeout applies to instances without StartTimeout.
	DefaultStartTimeout time.Duration `koanf:"default_start_timeout"`
	// DefaultRestart applies to instances without a restart policy.
	DefaultRestart Restart `koanf:"default_restart"`
	// Reload governs plugin swaps without a restart.
	Reload Reload `koanf:"reload"`
}

// Reload configures live plugin reloads (SIGHUP, POST /v1/admin/reload,
// or a change of a config file when Watch is on).
type Reload struct {
	// Watch reloads when a config file changes (debounced).
	Watch bool `koanf:"watch"`
	// DrainTimeout bounds how long a replaced plugin generation keeps
	// running for the sessions still on it; 0 waits until the last ends.
	DrainTimeout time.Duration `koanf:"drain_timeout"`
}

// Pipeline names, per kind, the plugin instances in fallback order.
type Pipeline struct {
	STT []string `koanf:"stt"`
	LLM []string `koanf:"llm"`
	TTS []string `koanf:"tts"`
}

// Breaker configures a gobreaker circuit breaker.
type Breaker struct {
	// ConsecutiveFailures trips the breaker.
	ConsecutiveFailures uint32 `koanf:"consecutive_failures"`
	// OpenTimeout is the cool-down before half-open.
	OpenTimeout time.Duration `koanf:"open_timeout"`
	// HalfOpenRequests is how many trial calls half-open allows.
	HalfOpenRequests uint32 `koanf:"half_open_requests"`
	// Interval clears failure counts while closed (0 = never).
	Interval time.Duration `koanf:"interval"`
}

// Retry configures retry with exponential backoff.
type Retry struct {
	MaxAttempts    int           `koanf:"max_attempts"`
	InitialBackoff time.Duration `koanf:"initial_backoff"`
	MaxBackoff     time.Duration `koanf:"max_backoff"`
	Multiplier     float64       `koanf:"multiplier"`
}

// Resilience configures breakers and retries of plugin calls.
type Resilience struct {
	Breaker Breaker `koanf:"breaker"`
	Retry   Retry   `koanf:"retry"`
	// FirstOutput cuts off a plugin call that was accepted but gives no
	// output in time; the cut is handled like any failure (retry, fallback).
	FirstOutput FirstOutput `koanf:"first_output"`
	// STTRecoverTimeout bounds how long an utterance whose recognizer failed
	// mid-stream waits for a restarted or fallback recognizer to take over
	// its audio before the turn fails; also how long an utterance waits
	// when every recognizer is down (restarting) as it starts.
	STTRecoverTimeout time.Duration `koanf:"stt_recover_timeout"`
	// TTSRecoverTimeout is the same bound for a reply whose synthesizer
	// failed mid-stream, or was down (restarting) as the reply started.
	TTSRecoverTimeout time.Duration `koanf:"tts_recover_timeout"`
}

// FirstOutput is the longest wait for a plugin call's first output, per
// plugin kind; zero waits for ever. STT counts from the end of the
// utterance's audio (a recognizer may hold partials back until then), LLM
// from the request, TTS from the first text sent.
type FirstOutput struct {
	STT time.Duration `koanf:"stt"`
	LLM time.Duration `koanf:"llm"`
	TTS time.Duration `koanf:"tts"`
}

// WebhookTool is an HTTP tool the LLM may call: Parley POSTs the JSON
// arguments to URL and returns the response body to the model.
type WebhookTool struct {
	Name        string `koanf:"name"`
	Description string `koanf:"description"`
	URL         string `koanf:"url"`
	// Parameters is the JSON Schema of the arguments.
	Parameters       map[string]any `koanf:"parameters"`
	Timeout          time.Duration  `koanf:"timeout"`
	MaxResponseBytes int64          `koanf:"max_response_bytes"`
	// HeadersEnv maps a header name to an environment variable holding its
	// value (e.g. Authorization → CRM_TOKEN). Values resolved by Load.
	HeadersEnv   map[string]string `koanf:"headers_env"`
	HeaderValues map[string]string `koanf:"-"`
}

// MCPServer is a Model Context Protocol server whose tools the agent may
// call: a remote one over Streamable HTTP (URL) or a local one Parley
// starts over stdio (Command).
type MCPServer struct {
	// Name identifies the server in logs and metrics and is the default
	// prefix of its tools' names.
	Name string `koanf:"name"`
	// URL is a remote server's Streamable HTTP endpoint.
	URL string `koanf:"url"`
	// HeadersEnv maps a header sent to URL to the environment variable
	// holding its value (Authorization → MCP_TOKEN). Values resolved by Load.
	HeadersEnv   map[string]string `koanf:"headers_env"`
	HeaderValues map[string]string `koanf:"-"`
	// Command and Args start a local server speaking MCP on stdin/stdout.
	Command string   `koanf:"command"`
	Args    []string `koanf:"args"`
	// Env names the variables the local server gets (nothing of Parley's
	// environment otherwise). Values resolved by Load.
	Env       []string          `koanf:"env"`
	EnvValues map[string]string `koanf:"-"`
	// AllowedTools, when set, offers only these of the server's tools (by
	// the server's own names).
	AllowedTools []string `koanf:"allowed_tools"`
	// Prefix is put before each tool's name for the LLM (default Name
	// and "_"); "-" means none.
	Prefix string `koanf:"prefix"`
	// Timeout bounds one call (and connecting, and listing).
	Timeout time.Duration `koanf:"timeout"`
	// ListTTL is how long the tool list is used before it is listed again
	// (a tools/list_changed notification refreshes it at once).
	ListTTL time.Duration `koanf:"list_ttl"`
	// MaxResultBytes caps a call's result text; a larger result is an
	// error the model sees.
	MaxResultBytes int64 `koanf:"max_result_bytes"`
}

// Tools configures the tools offered to the LLM.
type Tools struct {
	// Builtin enables built-in tools by name (get_current_time, end_session, calculator).
	Builtin  []string      `koanf:"builtin"`
	Webhooks []WebhookTool `koanf:"webhooks"`
	// MCP lists MCP servers whose tools are offered too.
	MCP []MCPServer `koanf:"mcp"`
	// Timezone is used by get_current_time (IANA name).
	Timezone string `koanf:"timezone"`
}

// RateLimitBackend selects where rate-limit buckets live.
type RateLimitBackend string

// The rate-limit backends.
const (
	RateLimitMemory RateLimitBackend = "memory"
	RateLimitRedis  RateLimitBackend = "redis"
)

// RateLimit configures the per-client-IP request limit.
type RateLimit struct {
	Enabled           bool             `koanf:"enabled"`
	RequestsPerMinute int              `koanf:"requests_per_minute"`
	Burst             int              `koanf:"burst"`
	Backend           RateLimitBackend `koanf:"backend"`
}

// Redis configures the shared store used by several nodes.
type Redis struct {
	Addr string `koanf:"addr"`
	// Password is secret.
	Password  string `koanf:"password"`
	DB        int    `koanf:"db"`
	KeyPrefix string `koanf:"key_prefix"`
}

// LogLevel is a slog level name.
type LogLevel string

// The log levels.
const (
	LevelDebug LogLevel = "debug"
	LevelInfo  LogLevel = "info"
	LevelWarn  LogLevel = "warn"
	LevelError LogLevel = "error"
)

// LogFormat selects the slog handler.
type LogFormat string

// The log formats: auto is text on a terminal, JSON otherwise.
const (
	FormatAuto LogFormat = "auto"
	FormatJSON LogFormat = "json"
	FormatText LogFormat = "text"
)

// Log configures logging.
type Log struct {
	Level  LogLevel  `koanf:"level"`
	Format LogFormat `koanf:"format"`
}

// Telemetry configures metrics, traces and the memory guard.
type Telemetry struct {
	// HeapLimitBytes above which the server reports overload and refuses
	// new sessions (0 = off).
	HeapLimitBytes uint64 `koanf:"heap_limit_bytes"`
	// MemorySampleInterval is how often runtime/metrics is sampled.
	MemorySampleInterval time.Duration `koanf:"memory_sample_interval"`
	// Tracing configures OpenTelemetry traces (tracing.go).
	Tracing Tracing `koanf:"tracing"`
	// PprofAddr, when set, serves Go's net/http/pprof profiles on this
	// loopback address (a listener of its own, never on http.addr).
	PprofAddr string `koanf:"pprof_addr"`
	// GCPercent is the Go garbage collector's target (GOGC) the parley
	// binary sets at start: the heap may grow this many per cent over the
	// live data before a collection. 0 leaves the runtime's own (GOGC from
	// the environment, else 100); a GOGC variable always wins.
	GCPercent int `koanf:"gc_percent"`
}

// RecordingDefault is which sessions are recorded when neither the
// client (session.update) nor its token says.
type RecordingDefault string

// The recording defaults.
const (
	// RecordOptIn records only sessions that ask for it.
	RecordOptIn RecordingDefault = "opt_in"
	// RecordOptOut records every session that does not opt out.
	RecordOptOut RecordingDefault = "opt_out"
)

// Recording configures call recordings: a stereo WAV and a JSON-lines
// event log per recorded session.
type Recording struct {
	// Enabled allows recordings at all; off, no session is recorded,
	// whatever it asks.
	Enabled bool `koanf:"enabled"`
	// Dir is where <session-id>.wav and <session-id>.jsonl are written.
	Dir string `koanf:"dir"`
	// Retention deletes recordings older than this (0 = keep forever).
	Retention time.Duration `koanf:"retention"`
	// Default: opt_in or opt_out.
	Default RecordingDefault `koanf:"default"`
	// QueueFrames bounds each recording's queue of audio chunks and
	// events waiting for the disk; beyond it data is dropped and counted.
	QueueFrames int `koanf:"queue_frames"`
}

// Secrets are provider keys under their conventional environment names.
type Secrets struct {
	AnthropicAPIKey  string
	ElevenLabsAPIKey string
	OpenAIAPIKey     string
	DeepgramAPIKey   string
}
