package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/clock"
	"github.com/parleyhq/parley/server/internal/config"
)

// Names of the built-in tools.
const (
	ToolGetCurrentTime = "get_current_time"
	ToolEndSession     = "end_session"
	ToolCalculator     = "calculator"
)

// Webhook defaults for zero config values.
const (
	defaultWebhookTimeout       = 10 * time.Second
	defaultWebhookMaxResponse   = 64 << 10
	webhookBreakerTrip          = 5
	webhookBreakerOpenTimeout   = 30 * time.Second
	webhookBreakerHalfOpenCalls = 1
)

// serverTool is a tool Parley runs itself.
type serverTool struct {
	def sdk.Tool
	// endsSession ends the session once the response has been spoken.
	endsSession bool
	run         func(ctx context.Context, args json.RawMessage) (string, error)
}

// Registry holds the server-side tools (built-ins and webhooks) in
// declaration order. It is shared by every session and safe for
// concurrent use.
type Registry struct {
	byName map[string]*serverTool
	order  []string
}

var _ Source = (*Registry)(nil)

func (t *Registry) add(st *serverTool) error {
	if _, dup := t.byName[st.def.Name]; dup {
		return fmt.Errorf("%w: duplicate tool %q", ErrConfig, st.def.Name)
	}
	t.byName[st.def.Name] = st
	t.order = append(t.order, st.def.Name)
	return nil
}

// Tools implements Source.
func (t *Registry) Tools() []sdk.Tool {
	out := make([]sdk.Tool, 0, len(t.order))
	for _, n := range t.order {
		out = append(out, t.byName[n].def)
	}
	return out
}

// Has implements Source.
func (t *Registry) Has(name string) bool {
	_, ok := t.byName[name]
	return ok
}

// Location implements Source.
func (*Registry) Location() Location { return LocationServer }

// Call implements Source.
func (t *Registry) Call(ctx context.Context, call sdk.ToolCall) (Result, error) {
	st, ok := t.byName[call.Name]
	if !ok {
		return Result{}, fmt.Errorf("%w %s", ErrUnknownTool, call.Name)
	}
	out, err := st.run(ctx, call.Arguments)
	if err != nil {
		return Result{}, err
	}
	return Result{Output: out, EndsSession: st.endsSession}, nil
}

// NewRegistry builds the server-side tools of cfg: cfg.Builtin by name and
// cfg.Webhooks. Webhooks are called with client. Errors wrap ErrConfig and
// name the key.
func NewRegistry(cfg config.Tools, clk clock.Clock, client *http.Client) (*Registry, error) {
	tb := &Registry{byName: map[string]*serverTool{}}
	loc := time.UTC
	if cfg.Timezone != "" {
		l, err := time.LoadLocation(cfg.Timezone)
		if err != nil {
			return nil, fmt.Errorf("%w: tools.timezone %q: %w", ErrConfig, cfg.Timezone, err)
		}
		loc = l
	}
	for _, name := range cfg.Builtin {
		var st *serverTool
		switch name {
		case ToolGetCurrentTime:
			st = timeTool(clk, loc)
		case ToolEndSession:
			st = endSessionTool()
		case ToolCalculator:
			st = calculatorTool()
		default:
			return nil, fmt.Errorf("%w: tools.builtin: unknown tool %q", ErrConfig, name)
		}
		if err := tb.add(st); err != nil {
			return nil, err
		}
	}
	for i, w := range cfg.Webhooks {
		st, err := webhookTool(w, client)
		if err != nil {
			return nil, fmt.Errorf("%w: tools.webhooks[%d]: %w", ErrConfig, i, err)
		}
		if err := tb.add(st); err != nil {
			return nil, err
		}
	}
	return tb, nil
}

func timeTool(clk clock.Clock, loc *time.Location) *serverTool {
	return &serverTool{
		def: sdk.Tool{
			Name:        ToolGetCurrentTime,
			Description: "Returns the current date and time. Optional: an IANA time zone name.",
			Parameters:  json.RawMessage(`{"type":"object","properties":{"timezone":{"type":"string","description":"IANA time zone, e.g. Europe/Paris"}}}`),
		},
		run: func(_ context.Context, args json.RawMessage) (string, error) {
			var in struct {
				Timezone string `json:"timezone"`
			}
			if err := decodeArgs(args, &in); err != nil {
				return "", err
			}
			l := loc
			if in.Timezone != "" {
				tz, err := time.LoadLocation(in.Timezone)
				if err != nil {
					return "", fmt.Errorf("unknown time zone %q: %w", in.Timezone, err)
				}
				l = tz
			}
			now := clk.Now().In(l)
			out, err := json.Marshal(map[string]string{
				"time": now.Format(time.RFC3339), "timezone": l.String(), "weekday": now.Weekday().String(),
			})
			return string(out), err
		},
	}
}

func endSessionTool() *serverTool {
	return &serverTool{
		def: sdk.Tool{
			Name:        ToolEndSession,
			Description: "Ends the conversation after the current reply has been spoken. Call it when the user says goodbye.",
			Parameters:  json.RawMessage(`{"type":"object","properties":{}}`),
		},
		endsSession: true,
		run: func(context.Context, json.RawMessage) (string, error) {
			return `{"ok":true}`, nil
		},
	}
}

func calculatorTool() *serverTool {
	return &serverTool{
		def: sdk.Tool{
			Name:        ToolCalculator,
			Description: "Evaluates an arithmetic expression with + - * / % ^ and parentheses.",
			Parameters:  json.RawMessage(`{"type":"object","properties":{"expression":{"type":"string"}},"required":["expression"]}`),
		},
		run: func(_ context.Context, args json.RawMessage) (string, error) {
			var in struct {
				Expression string `json:"expression"`
			}
			if err := decodeArgs(args, &in); err != nil {
				return "", err
			}
			v, err := Eval(in.Expression)
			if err != nil {
				return "", err
			}
			return `{"result":` + strconv.FormatFloat(v, 'g', -1, 64) + `}`, nil
		},
	}
}

func decodeArgs(args json.RawMessage, v any) error {
	if len(bytes.TrimSpace(args)) == 0 {
		return nil
	}
	if err := json.Unmarshal(args, v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadArguments, err)
	}
	return nil
}

func webhookTool(w config.WebhookTool, client *http.Client) (*serverTool, error) {
	if w.Name == "" || !ValidName(w.Name) {
		return nil, fmt.Errorf("name %q must match [a-zA-Z0-9_-]{1,64}", w.Name)
	}
	if w.URL == "" {
		return nil, fmt.Errorf("%s: url is required", w.Name)
	}
	params := json.RawMessage(`{"type":"object","properties":{}}`)
	if w.Parameters != nil {
		b, err := json.Marshal(w.Parameters)
		if err != nil {
			return nil, fmt.Errorf("%s: parameters: %w", w.Name, err)
		}
		params = b
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = defaultWebhookTimeout
	}
	limit := w.MaxResponseBytes
	if limit <= 0 {
		limit = defaultWebhookMaxResponse
	}
	cb := gobreaker.NewCircuitBreaker[string](gobreaker.Settings{
		Name:        "webhook:" + w.Name,
		MaxRequests: webhookBreakerHalfOpenCalls,
		Timeout:     webhookBreakerOpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= webhookBreakerTrip },
	})
	call := func(ctx context.Context, args json.RawMessage) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		body := bytes.TrimSpace(args)
		if len(body) == 0 {
			body = []byte("{}")
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
		if err != nil {
			return "", fmt.Errorf("webhook %s: %w", w.Name, err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range w.HeaderValues {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", fmt.Errorf("webhook %s: %w", w.Name, err)
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		if err != nil {
			return "", fmt.Errorf("webhook %s: read: %w", w.Name, err)
		}
		if int64(len(out)) > limit {
			return "", fmt.Errorf("webhook %s: %w (over %d bytes)", w.Name, ErrWebhookTooLarge, limit)
		}
		if resp.StatusCode < http.StatusOK || resp.StatusCode >= http.StatusMultipleChoices {
			return "", fmt.Errorf("webhook %s: HTTP %d", w.Name, resp.StatusCode)
		}
		return string(out), nil
	}
	return &serverTool{
		def: sdk.Tool{Name: w.Name, Description: w.Description, Parameters: params},
		run: func(ctx context.Context, args json.RawMessage) (string, error) {
			out, err := cb.Execute(func() (string, error) { return call(ctx, args) })
			if err != nil {
				return "", fmt.Errorf("tool %s: %w", w.Name, err)
			}
			return out, nil
		},
	}, nil
}
