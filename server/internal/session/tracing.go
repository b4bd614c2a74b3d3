package session

import (
	"context"
	"net"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/parleyhq/parley/server/internal/tools"
)

// Tracing is what the session's spans need: a tracer (of the OpenTelemetry
// API only; app owns the SDK and its exporter), whether transcripts and
// reply text go into spans, and the LLM the pipeline uses first (the
// gen_ai.system and gen_ai.request.model of llm spans; the plugin's own
// span names the provider and model that actually served).
type Tracing struct {
	Tracer         trace.Tracer
	IncludeContent bool
	LLMSystem      string
	LLMModel       string
}

// WithTracing makes sessions record spans: session → turn → stt, llm,
// tts, tool. Without it the tracer is a no-op.
func WithTracing(t Tracing) Option { return func(m *Manager) { m.tracing = t } }

// Span names.
const (
	spanSession = "session"
	spanTurn    = "turn"
	spanSTT     = "stt"
	spanLLM     = "llm"
	spanTTS     = "tts"
	spanTool    = "tool"
)

// Span attributes: Parley's own under parley.*, the LLM's under the
// gen_ai.* semantic conventions (gen_ai.system is the older name of
// gen_ai.provider.name; both are set). Never an address, a key or — unless
// IncludeContent — what anyone said.
const (
	attrSessionID      = attribute.Key("parley.session.id")
	attrTransport      = attribute.Key("parley.transport")
	attrIPClass        = attribute.Key("parley.remote_ip_class")
	attrGeneration     = attribute.Key("parley.plugin_generation")
	attrEndReason      = attribute.Key("parley.end_reason")
	attrTurns          = attribute.Key("parley.turns")
	attrResponseID     = attribute.Key("parley.response_id")
	attrTurnSource     = attribute.Key("parley.turn.source")
	attrUserTextLen    = attribute.Key("parley.turn.user_text_length")
	attrUserText       = attribute.Key("parley.turn.user_text")
	attrAgentText      = attribute.Key("parley.turn.agent_text")
	attrEndpointDelay  = attribute.Key("parley.turn.endpoint_delay_ms")
	attrDecision       = attribute.Key("parley.turn.decision")
	attrInterrupted    = attribute.Key("parley.turn.interrupted")
	attrInterruptWhy   = attribute.Key("parley.turn.interrupt_reason")
	attrVoiceToVoice   = attribute.Key("parley.turn.voice_to_voice_ms")
	attrSTTFinal       = attribute.Key("parley.turn.stt_final_ms")
	attrStatus         = attribute.Key("parley.turn.status")
	attrOutcome        = attribute.Key("parley.turn.outcome")
	attrSTTChars       = attribute.Key("parley.stt.final_characters")
	attrSTTText        = attribute.Key("parley.stt.transcript")
	attrSTTLanguage    = attribute.Key("parley.stt.language")
	attrGenAISystem    = attribute.Key("gen_ai.system")
	attrGenAIProvider  = attribute.Key("gen_ai.provider.name")
	attrGenAIOperation = attribute.Key("gen_ai.operation.name")
	attrGenAIModel     = attribute.Key("gen_ai.request.model")
	attrGenAIInTokens  = attribute.Key("gen_ai.usage.input_tokens")
	attrGenAIOutTokens = attribute.Key("gen_ai.usage.output_tokens")
	attrLLMTTFT        = attribute.Key("parley.llm.time_to_first_token_ms")
	attrLLMRound       = attribute.Key("parley.llm.round")
	attrLLMToolCalls   = attribute.Key("parley.llm.tool_calls")
	attrLLMPreemptive  = attribute.Key("parley.llm.preemptive")
	attrTTSChars       = attribute.Key("parley.tts.characters")
	attrTTSTTFA        = attribute.Key("parley.tts.time_to_first_audio_ms")
	attrTTSVoice       = attribute.Key("parley.tts.voice")
	attrToolName       = attribute.Key("gen_ai.tool.name")
	attrToolLocation   = attribute.Key("parley.tool.location")
	attrToolOutcome    = attribute.Key("parley.tool.outcome")
)

// Values of some attributes.
const (
	genAIChat = "chat"

	ipLoopback = "loopback"
	ipPrivate  = "private"
	ipPublic   = "public"
	ipUnknown  = "unknown"

	turnSpoken = "speech"
	turnTyped  = "text"

	turnNoWords    = "no_words"
	turnDropped    = "dropped"
	turnCommitted  = "committed_unanswered"
	turnSessionEnd = "session_ended"

	toolOK      = "ok"
	toolError   = "error"
	toolTimeout = "timeout"
	toolUnknown = "unknown_tool"
	toolBadArgs = "invalid_arguments"
)

// turnKey marks a context whose span is the turn a response answers.
type turnKey struct{}

// withTurn is ctx with span as the current span and as the turn a
// response started from it belongs to.
func withTurn(ctx context.Context, span trace.Span) context.Context {
	if !span.IsRecording() {
		return ctx
	}
	return context.WithValue(trace.ContextWithSpan(ctx, span), turnKey{}, span)
}

// turnOf is the turn span ctx carries (withTurn), if any.
func turnOf(ctx context.Context) (trace.Span, bool) {
	span, ok := ctx.Value(turnKey{}).(trace.Span)
	return span, ok
}

// traced reports whether sessions make spans (WithTracing). Without it
// every span helper returns at once with a no-op span and ctx unchanged:
// no attribute is built, nothing is allocated.
func (m *Manager) traced() bool { return m.tracing.Tracer != nil }

// off is the span of everything while tracing is off.
func off() trace.Span { return noop.Span{} }

// IPClass is the kind of address ip is — loopback, private (RFC 1918,
// unique local, link local) or public — so a trace can tell callers
// apart without holding their address; unknown when ip does not parse.
func IPClass(ip string) string {
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	a, err := netip.ParseAddr(ip)
	switch {
	case err != nil:
		return ipUnknown
	case a.IsLoopback():
		return ipLoopback
	case a.IsPrivate() || a.IsLinkLocalUnicast():
		return ipPrivate
	default:
		return ipPublic
	}
}

// startSessionSpan starts the session's root span (its own trace: one
// trace per conversation, sampled whole).
func (s *Session) startSessionSpan(ctx context.Context) context.Context {
	if !s.m.traced() {
		return ctx
	}
	ctx, s.span = s.m.tracing.Tracer.Start(ctx, spanSession, trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attrSessionID.String(string(s.id)), attrTransport.String(s.transport),
			attrIPClass.String(IPClass(s.remoteIP)), attrGeneration.Int(s.generation)))
	return ctx
}

// endSessionSpan ends the session's spans still open and the session's.
func (s *Session) endSessionSpan() {
	if !s.span.IsRecording() {
		return
	}
	for _, t := range []*userTurn{s.uturn, s.finishing} {
		if t != nil {
			t.endSpan(turnSessionEnd)
		}
	}
	if r := s.resp; r != nil {
		r.span.SetAttributes(attrOutcome.String(turnSessionEnd))
		r.span.End()
	}
	s.span.SetAttributes(attrTurns.Int64(s.turns.Load()))
	s.span.End()
}

// recordEnd notes why the session ended on its span.
func (s *Session) recordEnd(reason EndReason) {
	if !s.span.IsRecording() {
		return
	}
	s.span.SetAttributes(attrEndReason.String(reason.String()))
}

// startTurnSpan starts the span of a user turn, a child of the session's.
func (s *Session) startTurnSpan(ctx context.Context, source string) trace.Span {
	if !s.span.IsRecording() {
		return off()
	}
	_, span := s.m.tracing.Tracer.Start(trace.ContextWithSpan(ctx, s.span), spanTurn, trace.WithAttributes(attrTurnSource.String(source)))
	return span
}

// endSpan ends the span of a turn that got no response.
func (t *userTurn) endSpan(outcome string) {
	if t.span == nil || !t.span.IsRecording() {
		return
	}
	for _, u := range t.segs {
		u.span.End() // a stream cut off with its turn
	}
	t.span.SetAttributes(attrOutcome.String(outcome))
	t.span.End()
}

// recordUserText notes the user's words on the turn span.
func (s *Session) recordUserText(span trace.Span, text string) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attrUserTextLen.Int(len(text)))
	if s.m.tracing.IncludeContent {
		span.SetAttributes(attrUserText.String(text))
	}
}

// endTurnSpan records the response's measures (ev, its Metrics event) on
// its turn span and ends it.
func (s *Session) endTurnSpan(r *response, ev Metrics, spoken string) {
	if !r.span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{attrResponseID.String(r.id)}
	if ev.EndpointDelay != nil {
		attrs = append(attrs, attrEndpointDelay.Int64(ev.EndpointDelay.Milliseconds()), attrDecision.String(ev.TurnDecision))
	}
	if ev.VoiceToVoice != nil {
		attrs = append(attrs, attrVoiceToVoice.Int64(ev.VoiceToVoice.Milliseconds()))
	}
	if ev.STTFinal != nil {
		attrs = append(attrs, attrSTTFinal.Int64(ev.STTFinal.Milliseconds()))
	}
	if s.m.tracing.IncludeContent {
		attrs = append(attrs, attrAgentText.String(spoken))
	}
	r.span.SetAttributes(attrs...)
	r.span.End()
}

// markInterrupted notes on a turn's span that its reply was cut off.
func markInterrupted(span trace.Span, reason InterruptReason) {
	if span.IsRecording() {
		span.SetAttributes(attrInterrupted.Bool(true), attrInterruptWhy.String(string(reason)))
	}
}

// markDone notes how a turn's reply ended (err: why it failed).
func markDone(span trace.Span, status ResponseStatus, err error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attrInterrupted.Bool(false), attrStatus.String(string(status)))
	if err != nil {
		failSpan(span, err)
	}
}

// startSTTSpan starts an utterance's span, a child of its turn's.
func (s *Session) startSTTSpan(ctx context.Context, t *userTurn) (context.Context, trace.Span) {
	if !t.span.IsRecording() {
		return ctx, off()
	}
	return s.m.tracing.Tracer.Start(trace.ContextWithSpan(ctx, t.span), spanSTT, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrSTTLanguage.String(s.st.language)))
}

// endSTTSpan ends an utterance's span with its words or its error.
func (s *Session) endSTTSpan(u *utterance, err error) {
	if !u.span.IsRecording() {
		return
	}
	if err != nil {
		failSpan(u.span, err)
	}
	n := 0
	for _, f := range u.finals {
		n += len(f)
	}
	u.span.SetAttributes(attrSTTChars.Int(n))
	if s.m.tracing.IncludeContent {
		u.span.SetAttributes(attrSTTText.StringSlice(u.finals))
	}
	u.span.End()
}

// startLLMSpan starts the span of one LLM round, a child of the turn's.
func (r *response) startLLMSpan(ctx context.Context, round int) (context.Context, trace.Span) {
	if !r.span.IsRecording() {
		return ctx, off()
	}
	tr := r.s.m.tracing
	return tr.Tracer.Start(ctx, spanLLM, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attrGenAISystem.String(tr.LLMSystem), attrGenAIProvider.String(tr.LLMSystem), attrGenAIOperation.String(genAIChat),
		attrGenAIModel.String(tr.LLMModel), attrLLMRound.Int(round), attrLLMPreemptive.Bool(round == 0 && r.pre != nil)))
}

// noFirstToken is the time to first token of a round that sent none.
const noFirstToken = time.Duration(-1)

// endLLMSpan records a round's tokens, time to first token (noFirstToken:
// none came) and tool calls.
func endLLMSpan(span trace.Span, in, out int, ttft time.Duration, calls int, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		failSpan(span, err)
	}
	attrs := []attribute.KeyValue{attrGenAIInTokens.Int(in), attrGenAIOutTokens.Int(out), attrLLMToolCalls.Int(calls)}
	if ttft != noFirstToken {
		attrs = append(attrs, attrLLMTTFT.Int64(ttft.Milliseconds()))
	}
	span.SetAttributes(attrs...)
	span.End()
}

// startTTSSpan starts the span of a TTS stream, a child of the turn's.
func (r *response) startTTSSpan(ctx context.Context) (context.Context, trace.Span) {
	if !r.span.IsRecording() {
		return ctx, off()
	}
	return r.s.m.tracing.Tracer.Start(ctx, spanTTS, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrTTSVoice.String(r.voice)))
}

// endTTSSpan records the characters spoken and the time to first audio.
func (r *response) endTTSSpan(sp trace.Span, chars int, err error) {
	if !sp.IsRecording() {
		return
	}
	if err != nil {
		failSpan(sp, err)
	}
	r.mu.Lock()
	ttfa, ok := span(r.times.ttsFirstText, r.times.ttsFirstAudio)
	r.mu.Unlock()
	sp.SetAttributes(attrTTSChars.Int(chars))
	if ok {
		sp.SetAttributes(attrTTSTTFA.Int64(ttfa.Milliseconds()))
	}
	sp.End()
}

// startToolSpan starts the span of one tool call.
func (r *response) startToolSpan(ctx context.Context, name string, loc tools.Location) (context.Context, trace.Span) {
	if !r.span.IsRecording() {
		return ctx, off()
	}
	return r.s.m.tracing.Tracer.Start(ctx, spanTool, trace.WithAttributes(attrToolName.String(name), attrToolLocation.String(string(loc))))
}

// endToolSpan records a tool call's outcome.
func endToolSpan(span trace.Span, outcome string, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		failSpan(span, err)
	}
	span.SetAttributes(attrToolOutcome.String(outcome))
	span.End()
}

// failSpan marks span failed with err. The status message is the error's
// text: plugin errors reach traces (an operator's tool) as they reach the
// log, never the client.
func failSpan(span trace.Span, err error) {
	if !span.IsRecording() {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
