package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/parleyhq/parley/sdk"
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

// toolbox holds the server-side tools, in declaration order.
type toolbox struct {
	byName map[string]*serverTool
	order  []string
}

func (t *toolbox) add(st *serverTool) error {
	if _, dup := t.byName[st.def.Name]; dup {
		return fmt.Errorf("session: duplicate tool %q", st.def.Name)
	}
	t.byName[st.def.Name] = st
	t.order = append(t.order, st.def.Name)
	return nil
}

// defs returns the tool declarations for the LLM.
func (t *toolbox) defs() []sdk.Tool {
	out := make([]sdk.Tool, 0, len(t.order))
	for _, n := range t.order {
		out = append(out, t.byName[n].def)
	}
	return out
}

func newToolbox(cfg config.Tools, clock Clock, client *http.Client) (*toolbox, error) {
	tb := &toolbox{byName: map[string]*serverTool{}}
	loc := time.UTC
	if cfg.Timezone != "" {
		l, err := time.LoadLocation(cfg.Timezone)
		if err != nil {
			return nil, fmt.Errorf("session: tools.timezone %q: %w", cfg.Timezone, err)
		}
		loc = l
	}
	for _, name := range cfg.Builtin {
		var st *serverTool
		switch name {
		case ToolGetCurrentTime:
			st = timeTool(clock, loc)
		case ToolEndSession:
			st = endSessionTool()
		case ToolCalculator:
			st = calculatorTool()
		default:
			return nil, fmt.Errorf("session: tools.builtin: unknown tool %q", name)
		}
		if err := tb.add(st); err != nil {
			return nil, err
		}
	}
	for i, w := range cfg.Webhooks {
		st, err := webhookTool(w, client)
		if err != nil {
			return nil, fmt.Errorf("session: tools.webhooks[%d]: %w", i, err)
		}
		if err := tb.add(st); err != nil {
			return nil, err
		}
	}
	return tb, nil
}

func timeTool(clock Clock, loc *time.Location) *serverTool {
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
			now := clock.Now().In(l)
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
		return fmt.Errorf("bad arguments: %w", err)
	}
	return nil
}

// errWebhookTooLarge is returned when a webhook's response exceeds its cap.
var errWebhookTooLarge = errors.New("webhook response too large")

func webhookTool(w config.WebhookTool, client *http.Client) (*serverTool, error) {
	if w.Name == "" || !toolNamePattern.MatchString(w.Name) {
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
			return "", fmt.Errorf("webhook %s: %w (over %d bytes)", w.Name, errWebhookTooLarge, limit)
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
