package config

import "time"

// Default values. Named so that docs, tests and validation agree.
const (
	DefaultAddr              = "127.0.0.1:8080"
	defaultReadHeaderTimeout = 5 * time.Second
	defaultRequestTimeout    = 30 * time.Second
	defaultIdleTimeout       = 120 * time.Second
	defaultMaxBodyBytes      = 1 << 20
	defaultDrainTimeout      = 10 * time.Second
	defaultTLSReload         = 10 * time.Second

	defaultWSMaxMessageBytes = 64 << 10
	defaultWSMessagesPerSec  = 200
	defaultWSSendBuffer      = 256
	defaultWSWriteTimeout    = 5 * time.Second
	defaultWSPingInterval    = 20 * time.Second

	defaultICEDisconnected = 5 * time.Second
	defaultICEFailed       = 10 * time.Second
	defaultMaxOfferBytes   = 64 << 10
	// defaultOpusComplexity: 2 costs 60 % of libopus's 5 per frame with no
	// measured loss on speech (server/BENCHMARKS.md).
	defaultOpusComplexity = 2

	defaultMaxSessions       = 200
	defaultMaxSessionsPerIP  = 20
	defaultSystemPrompt      = "You are a helpful voice assistant. Keep answers short and spoken-friendly."
	defaultLanguage          = "en-US"
	defaultOutputSampleRate  = 16000
	defaultInterruptAfter    = 300 * time.Millisecond
	defaultMaxToolRounds     = 4
	defaultClientToolTimeout = 10 * time.Second
	defaultMaxHistory        = 64
	defaultMaxTokens         = 512
	defaultTemperature       = 0.7
	defaultOutputLookahead   = 120 * time.Millisecond
	defaultSessionIdle       = 5 * time.Minute

	defaultVADThreshold = 12.0
	// defaultEnterProbability and defaultExitProbability are Silero's own
	// 0.5 and 0.15 below it. 0.7/0.5 scores better in babble on the
	// generated evaluation (segmenter F1 0.952 vs 0.936 at 20 dB) but
	// missed a barge-in spoken over the agent through the browser's echo
	// canceller that 0.5 and the energy engine heard (server/BENCHMARKS.md).
	defaultEnterProbability = 0.5
	defaultExitProbability  = 0.35
	// defaultBatchWait: with 100 listening sessions an 8 ms wait batches
	// about 50 windows per inference and keeps the VAD at 0.23 % of a core
	// per session (4 ms: 0.25 %, none: 0.51 %; server/BENCHMARKS.md).
	// A lone session never waits.
	defaultBatchWait = 8 * time.Millisecond
	// defaultMaxUtterance: a spoken request to an agent rarely lasts 20 s;
	// 30 s ends a turn that babble or steady noise holds open while still
	// letting a long dictated message through in one turn.
	defaultMaxUtterance  = 30 * time.Second
	defaultMinSpeech     = 120 * time.Millisecond
	defaultMinSilence    = 600 * time.Millisecond
	defaultPreRoll       = 300 * time.Millisecond
	defaultMinSilenceMin = 200 * time.Millisecond
	defaultMinSilenceMax = 3 * time.Second
	// defaultThresholdMin and defaultThresholdMax are dB above the noise floor.
	defaultThresholdMin = 6.0
	defaultThresholdMax = 24.0
	defaultMinSpeechMin = 60 * time.Millisecond
	defaultMinSpeechMax = 500 * time.Millisecond

	defaultHealthInterval = 5 * time.Second
	// defaultReloadDrain lets a call that began before a reload run half
	// an hour on its old plugins.
	defaultReloadDrain    = 30 * time.Minute
	defaultStartTimeout   = 10 * time.Second
	defaultRestartWindow  = time.Minute
	defaultMaxRestarts    = 10
	defaultRestartInitial = 100 * time.Millisecond
	defaultRestartMax     = 10 * time.Second

	defaultBreakerFailures = 5
	defaultBreakerOpen     = 10 * time.Second
	defaultBreakerHalfOpen = 1
	defaultRetryAttempts   = 3
	defaultRetryInitial    = 100 * time.Millisecond
	defaultRetryMax        = 2 * time.Second
	defaultRetryMultiplier = 2.0
	defaultFirstOutputSTT  = 5 * time.Second
	defaultFirstOutputLLM  = 10 * time.Second
	defaultFirstOutputTTS  = 5 * time.Second
	defaultSTTRecover      = 2 * time.Second
	defaultTTSRecover      = 2 * time.Second

	defaultRequestsPerMinute = 600
	defaultBurst             = 60

	defaultRedisAddr   = "127.0.0.1:6379"
	defaultRedisPrefix = "parley:"

	defaultMemorySample = 2 * time.Second
	// defaultGCPercent: the heap grows half the live data between
	// collections rather than all of it — ≈ 15 % less RSS per session for
	// ≈ 5 % more server CPU at 100 sessions (server/BENCHMARKS.md).
	defaultGCPercent = 50
	// defaultRecordingDir is where recordings go (relative to the working directory).
	defaultRecordingDir = "recordings"
	// defaultRecordingQueue is 10 s of 20 ms frames and their events.
	defaultRecordingQueue = 1024
)

// Default returns the code defaults, the lowest configuration layer.
func Default() Config {
	return Config{
		HTTP: HTTP{
			Addr:              DefaultAddr,
			ReadHeaderTimeout: defaultReadHeaderTimeout,
			RequestTimeout:    defaultRequestTimeout,
			IdleTimeout:       defaultIdleTimeout,
			MaxBodyBytes:      defaultMaxBodyBytes,
			DrainTimeout:      defaultDrainTimeout,
			DrainMode:         DrainClose,
			TLS:               TLS{ReloadInterval: defaultTLSReload},
		},
		WebSocket: WebSocket{
			MaxMessageBytes:      defaultWSMaxMessageBytes,
			MaxMessagesPerSecond: defaultWSMessagesPerSec,
			SendBuffer:           defaultWSSendBuffer,
			WriteTimeout:         defaultWSWriteTimeout,
			PingInterval:         defaultWSPingInterval,
		},
		WebRTC: WebRTC{
			Enabled:             true,
			DisconnectedTimeout: defaultICEDisconnected,
			FailedTimeout:       defaultICEFailed,
			MaxOfferBytes:       defaultMaxOfferBytes,
			DTX:                 true,
			OpusComplexity:      defaultOpusComplexity,
		},
		Session: Session{
			MaxSessions:       defaultMaxSessions,
			MaxSessionsPerIP:  defaultMaxSessionsPerIP,
			SystemPrompt:      defaultSystemPrompt,
			Language:          defaultLanguage,
			OutputSampleRate:  defaultOutputSampleRate,
			InterruptAfter:    defaultInterruptAfter,
			MaxToolRounds:     defaultMaxToolRounds,
			ClientToolTimeout: defaultClientToolTimeout,
			MaxHistory:        defaultMaxHistory,
			MaxTokens:         defaultMaxTokens,
			Temperature:       defaultTemperature,
			OutputLookahead:   defaultOutputLookahead,
			IdleTimeout:       defaultSessionIdle,
		},
		VAD: VAD{
			Engine:           VADEnergy,
			EnterProbability: defaultEnterProbability,
			ExitProbability:  defaultExitProbability,
			BatchWait:        defaultBatchWait,
			MaxUtterance:     defaultMaxUtterance,
			Threshold:        defaultVADThreshold,
			MinSpeech:        defaultMinSpeech,
			MinSilence:       defaultMinSilence,
			PreRoll:          defaultPreRoll,
			MinSilenceMin:    defaultMinSilenceMin,
			MinSilenceMax:    defaultMinSilenceMax,
			ThresholdMin:     defaultThresholdMin,
			ThresholdMax:     defaultThresholdMax,
			MinSpeechMin:     defaultMinSpeechMin,
			MinSpeechMax:     defaultMinSpeechMax,
		},
		Turn: defaultTurn(),
		Plugins: Plugins{
			HealthInterval:      defaultHealthInterval,
			DefaultStartTimeout: defaultStartTimeout,
			DefaultRestart: Restart{
				MaxRestarts:    defaultMaxRestarts,
				Window:         defaultRestartWindow,
				InitialBackoff: defaultRestartInitial,
				MaxBackoff:     defaultRestartMax,
			},
			Reload: Reload{DrainTimeout: defaultReloadDrain},
		},
		Resilience: Resilience{
			Breaker: Breaker{
				ConsecutiveFailures: defaultBreakerFailures,
				OpenTimeout:         defaultBreakerOpen,
				HalfOpenRequests:    defaultBreakerHalfOpen,
			},
			Retry: Retry{
				MaxAttempts:    defaultRetryAttempts,
				InitialBackoff: defaultRetryInitial,
				MaxBackoff:     defaultRetryMax,
				Multiplier:     defaultRetryMultiplier,
			},
			FirstOutput:       FirstOutput{STT: defaultFirstOutputSTT, LLM: defaultFirstOutputLLM, TTS: defaultFirstOutputTTS},
			STTRecoverTimeout: defaultSTTRecover,
			TTSRecoverTimeout: defaultTTSRecover,
		},
		Tools: Tools{
			Builtin:  []string{"get_current_time", "end_session", "calculator"},
			Timezone: "Local",
		},
		RateLimit: RateLimit{
			Enabled:           true,
			RequestsPerMinute: defaultRequestsPerMinute,
			Burst:             defaultBurst,
			Backend:           RateLimitMemory,
		},
		Redis:     Redis{Addr: defaultRedisAddr, KeyPrefix: defaultRedisPrefix},
		Log:       Log{Level: LevelInfo, Format: FormatAuto},
		Telemetry: Telemetry{MemorySampleInterval: defaultMemorySample, Tracing: defaultTracing(), GCPercent: defaultGCPercent},
		Telephony: defaultTelephony(),
		Cluster:   defaultCluster(),
		Recording: Recording{Dir: defaultRecordingDir, Default: RecordOptIn, QueueFrames: defaultRecordingQueue},
		Auth:      Auth{Tokens: defaultTokens()},
	}
}
