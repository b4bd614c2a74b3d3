package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Generative AI attributes (OpenTelemetry semantic conventions; gen_ai.system
// is the older name of gen_ai.provider.name, both are set).
const (
	AttrGenAISystem       = attribute.Key("gen_ai.system")
	AttrGenAIProvider     = attribute.Key("gen_ai.provider.name")
	AttrGenAIOperation    = attribute.Key("gen_ai.operation.name")
	AttrGenAIRequestModel = attribute.Key("gen_ai.request.model")
	AttrGenAIInputTokens  = attribute.Key("gen_ai.usage.input_tokens")
	AttrGenAIOutputTokens = attribute.Key("gen_ai.usage.output_tokens")
)

// operationChat is gen_ai.operation.name of a chat completion.
const operationChat = "chat"

// StartChat starts the span of one chat call to an LLM provider, "chat
// <model>", as a child of ctx's span (the host's call into the plugin);
// end it with EndChat. Outside a trace it is a no-op span.
func StartChat(ctx context.Context, system, model string) (context.Context, trace.Span) {
	return trace.SpanFromContext(ctx).TracerProvider().Tracer(ScopeName).Start(ctx, operationChat+" "+model,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(AttrGenAISystem.String(system), AttrGenAIProvider.String(system),
			AttrGenAIOperation.String(operationChat), AttrGenAIRequestModel.String(model)))
}

// EndChat records the call's token counts and error and ends span.
func EndChat(span trace.Span, inputTokens, outputTokens int, err error) {
	span.SetAttributes(AttrGenAIInputTokens.Int(inputTokens), AttrGenAIOutputTokens.Int(outputTokens))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "provider call failed")
	}
	span.End()
}
