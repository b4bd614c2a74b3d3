package tools

import "errors"

// ErrUnknownTool is returned by Set.Call for a name no source declares.
var ErrUnknownTool = errors.New("tools: unknown tool")

// ErrTimeout is returned by Client.Call when the client did not answer
// within its timeout.
var ErrTimeout = errors.New("tools: the client did not answer in time")

// ErrBadArguments is returned for arguments that do not decode into what
// the tool takes.
var ErrBadArguments = errors.New("tools: bad arguments")

// ErrInvalidExpression is returned by the calculator for input it cannot
// evaluate (syntax, division by zero, limits).
var ErrInvalidExpression = errors.New("tools: invalid expression")

// ErrWebhookTooLarge is returned when a webhook's response exceeds its cap.
var ErrWebhookTooLarge = errors.New("tools: webhook response too large")

// ErrConfig is wrapped by every tools-configuration error of NewRegistry.
var ErrConfig = errors.New("tools: configuration")
