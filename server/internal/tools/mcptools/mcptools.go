// Package mcptools offers the tools of MCP (Model Context Protocol)
// servers to the agent: each configured server (tools.mcp) is a
// tools.Source. A remote server is reached over Streamable HTTP, a local
// one is started by Parley and spoken to over stdio, with only the
// environment variables its entry names. Tools are listed when the server
// connects, cached for list_ttl and listed again at once on
// notifications/tools/list_changed; calls are bounded by the server's
// timeout, go through a circuit breaker per server and have their result
// capped. Everything that goes wrong — the server down, a timeout, an
// error result, an oversized result — is a tool error the model sees,
// never a failed turn. A local server that exits is started again by the
// next call or listing (the breaker spaces the attempts).
package mcptools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/server/internal/config"
	"github.com/parleyhq/parley/server/internal/resilience"
	"github.com/parleyhq/parley/server/internal/tools"
)

// Defaults for zero config values.
const (
	defaultTimeout   = 10 * time.Second
	defaultListTTL   = 5 * time.Minute
	defaultMaxResult = 64 << 10
	// relistInterval spaces listings of a server that has none cached
	// (down at start, or its listing failed).
	relistInterval = 5 * time.Second
	// terminateGrace is how long a local server has to exit after its
	// stdin closed before it is sent SIGTERM.
	terminateGrace = 2 * time.Second
	breakerTrip    = 3
	breakerOpen    = 10 * time.Second
	clientName     = "parley"
)

// Errors a call returns (wrapped, naming the server and tool); their text
// is what the model reads.
var (
	// ErrUnavailable: the server could not be reached or answered with a
	// protocol error, or its breaker is open.
	ErrUnavailable = errors.New("MCP tool unavailable")
	// ErrResultTooLarge: the result is over tools.mcp[].max_result_bytes.
	ErrResultTooLarge = errors.New("MCP tool result too large")
)

// Server is one MCP server's tools.
type Server struct {
	cfg       config.MCPServer
	prefix    string
	timeout   time.Duration
	ttl       time.Duration
	maxResult int64
	version   string
	logger    *slog.Logger
	metrics   *metrics
	breaker   *resilience.Breaker
	client    *mcp.Client

	// connMu serialises connecting.
	connMu sync.Mutex

	mu         sync.Mutex
	session    *mcp.ClientSession
	tools      []sdk.Tool
	names      map[string]string // offered name → the server's name
	listed     time.Time
	lastTry    time.Time
	refreshing bool
	closed     bool
	bg         sync.WaitGroup
}

var _ tools.Source = (*Server)(nil)

// New prepares the Server of cfg; nothing connects until Start. version
// is Parley's, sent in the MCP handshake; metrics go to m (see
// NewMetrics).
func New(cfg config.MCPServer, version string, m *Metrics, logger *slog.Logger) *Server {
	s := &Server{
		cfg: cfg, version: version, metrics: m.m, names: map[string]string{},
		prefix:    cfg.Name + "_",
		timeout:   or(cfg.Timeout, defaultTimeout),
		ttl:       or(cfg.ListTTL, defaultListTTL),
		maxResult: cfg.MaxResultBytes,
		logger:    logger.With("mcp_server", cfg.Name),
	}
	switch cfg.Prefix {
	case "":
	case "-":
		s.prefix = ""
	default:
		s.prefix = cfg.Prefix
	}
	if s.maxResult == 0 {
		s.maxResult = defaultMaxResult
	}
	s.breaker = resilience.NewBreaker("mcp:"+cfg.Name, config.Breaker{ConsecutiveFailures: breakerTrip, OpenTimeout: breakerOpen},
		func(_ string, from, to gobreaker.State) {
			s.logger.Warn("MCP server breaker state changed", "from", from.String(), "to", to.String())
		})
	s.client = mcp.NewClient(&mcp.Implementation{Name: clientName, Version: version}, &mcp.ClientOptions{
		// The list is fetched in the background, not under the
		// notification's context.
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { s.invalidate() }, //nolint:contextcheck // see above.
	})
	m.m.up.WithLabelValues(cfg.Name).Set(0)
	return s
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Start connects and lists the tools, bounded by the server's timeout. A
// server that cannot be reached is logged and tried again later: its
// tools appear once it answers.
func (s *Server) Start(ctx context.Context) {
	if err := s.refresh(ctx); err != nil {
		s.logger.Warn("MCP server not reachable at start; its tools appear once it answers", "error", err)
	}
}

// Close ends the connection (a local server's stdin is closed, then it is
// terminated) and waits for background listings.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	cs := s.session
	s.session = nil
	s.mu.Unlock()
	var err error
	if cs != nil {
		err = cs.Close()
	}
	s.bg.Wait()
	return err
}

// Name is the server's name (tools.mcp[].name).
func (s *Server) Name() string { return s.cfg.Name }

// Location implements tools.Source.
func (*Server) Location() tools.Location { return tools.LocationServer }

// Tools implements tools.Source: the cached list. A stale list is
// returned as it is while it is listed again in the background.
func (s *Server) Tools() []sdk.Tool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	due := now.Sub(s.listed) >= s.ttl && now.Sub(s.lastTry) >= relistInterval
	if due && !s.refreshing && !s.closed {
		s.refreshing = true
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
			defer cancel()
			if err := s.refresh(ctx); err != nil {
				s.logger.Warn("MCP tool listing failed; keeping the last list", "error", err)
			}
		}()
	}
	return slices.Clone(s.tools)
}

// Has implements tools.Source.
func (s *Server) Has(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.names[name]
	return ok
}

// invalidate marks the list stale (the server said it changed) and lists
// again.
func (s *Server) invalidate() {
	s.mu.Lock()
	s.listed, s.lastTry = time.Time{}, time.Time{}
	s.mu.Unlock()
	s.Tools()
}

// refresh lists the server's tools and replaces the cache. Listing does
// not go through the breaker: it runs in the background, at most every
// relistInterval, and is how a server that came back is noticed.
func (s *Server) refresh(ctx context.Context) error {
	defer func() {
		s.mu.Lock()
		s.refreshing = false
		s.mu.Unlock()
	}()
	s.mu.Lock()
	s.lastTry = time.Now()
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cs, err := s.connection(ctx)
	if err != nil {
		return err
	}
	var listed []*mcp.Tool
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return s.unavailable("list tools", err)
		}
		listed = append(listed, t)
	}
	offered, names := s.offer(listed)
	s.mu.Lock()
	s.tools, s.names, s.listed = offered, names, time.Now()
	s.mu.Unlock()
	s.metrics.tools.WithLabelValues(s.cfg.Name).Set(float64(len(offered)))
	s.logger.Info("MCP tools listed", "offered", len(offered), "listed", len(listed))
	return nil
}

// offer turns the server's tools into the declarations the model gets:
// allowed ones only, prefixed, with their input schema.
func (s *Server) offer(listed []*mcp.Tool) ([]sdk.Tool, map[string]string) {
	out := make([]sdk.Tool, 0, len(listed))
	names := make(map[string]string, len(listed))
	for _, t := range listed {
		if len(s.cfg.AllowedTools) > 0 && !slices.Contains(s.cfg.AllowedTools, t.Name) {
			continue
		}
		name := s.prefix + t.Name
		if !tools.ValidName(name) {
			s.logger.Warn("MCP tool skipped: its name is not a valid LLM tool name", "tool", t.Name)
			continue
		}
		schema := json.RawMessage(`{"type":"object"}`)
		if t.InputSchema != nil {
			raw, err := json.Marshal(t.InputSchema)
			if err != nil {
				s.logger.Warn("MCP tool skipped: its input schema is not JSON", "tool", t.Name, "error", err)
				continue
			}
			schema = raw
		}
		desc := t.Description
		if desc == "" {
			desc = t.Title
		}
		out = append(out, sdk.Tool{Name: name, Description: desc, Parameters: schema})
		names[name] = t.Name
	}
	return out, names
}

// Call implements tools.Source.
func (s *Server) Call(ctx context.Context, call sdk.ToolCall) (tools.Result, error) {
	s.mu.Lock()
	remote, ok := s.names[call.Name]
	s.mu.Unlock()
	if !ok {
		return tools.Result{}, fmt.Errorf("%w %s", tools.ErrUnknownTool, call.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	args := call.Arguments
	if len(args) == 0 {
		args = json.RawMessage(`{}`)
	}
	var (
		res      *mcp.CallToolResult
		protoErr error
	)
	err := s.breaker.Execute(func() error {
		cs, err := s.connection(ctx)
		if err != nil {
			return err
		}
		res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: remote, Arguments: args})
		if err != nil && s.cfg.Command != "" && lostTransport(err) && ctx.Err() == nil {
			// A local server that exited (crashed, killed) before its
			// connection was known lost: the call never reached a live
			// process, so it is started again and the call made once more.
			s.drop(cs)
			if cs, err = s.connection(ctx); err != nil {
				return err
			}
			res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: remote, Arguments: args})
		}
		switch {
		case callerError(err):
			// The server answered that the request was wrong (unknown
			// tool, bad arguments): nothing about its health.
			protoErr = s.unavailable("call "+remote, err)
			return nil
		case err != nil:
			return s.unavailable("call "+remote, err)
		}
		return nil
	})
	if err == nil && protoErr != nil {
		err = protoErr
	}
	if err != nil {
		s.count(resultOf(err))
		if resilience.IsBreakerRejection(err) {
			return tools.Result{}, fmt.Errorf("%w: the %s server is not answering (tried again shortly)", ErrUnavailable, s.cfg.Name)
		}
		if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
			return tools.Result{}, fmt.Errorf("%w: %s gave no answer within %s", ErrUnavailable, call.Name, s.timeout)
		}
		return tools.Result{}, err
	}
	out := resultText(res)
	if int64(len(out)) > s.maxResult {
		s.count("too_large")
		return tools.Result{}, fmt.Errorf("%w: %s returned %d bytes, over the %d-byte cap", ErrResultTooLarge, call.Name, len(out), s.maxResult)
	}
	if res.IsError {
		s.count("tool_error")
		return tools.Result{Output: out, IsError: true}, nil
	}
	s.count("ok")
	return tools.Result{Output: out}, nil
}

// JSON-RPC codes of a request the server rejected as wrong.
const (
	codeInvalidRequest = -32600
	codeMethodNotFound = -32601
	codeInvalidParams  = -32602
	// codeRejected is the Go SDK's own code for a request its transport
	// could not deliver (the server unreachable).
	codeRejected = -32005
)

// lostTransport reports whether a call failed for want of a connection
// (the transport closed or could not deliver), not with an answer of the
// server or for want of time.
func lostTransport(err error) bool {
	var we *jsonrpc.Error
	if errors.As(err, &we) {
		return we.Code == codeRejected
	}
	return !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// drop forgets a connection found dead, so the next use reconnects.
func (s *Server) drop(cs *mcp.ClientSession) {
	s.mu.Lock()
	if s.session == cs {
		s.session = nil
	}
	s.mu.Unlock()
	s.logger.Warn("MCP server connection lost during a call; starting it again")
	_ = cs.Close()
}

// callerError reports whether err is the server's answer that the request
// was wrong, rather than a failure to reach it or of the server itself.
func callerError(err error) bool {
	var we *jsonrpc.Error
	if !errors.As(err, &we) {
		return false
	}
	switch we.Code {
	case codeInvalidRequest, codeMethodNotFound, codeInvalidParams:
		return true
	}
	return false
}

func resultOf(err error) string {
	if resilience.IsBreakerRejection(err) {
		return "breaker_open"
	}
	return "error"
}

func (s *Server) count(result string) {
	s.metrics.calls.WithLabelValues(s.cfg.Name, result).Inc()
}

// unavailable wraps a failure to talk to the server. Its text is what the
// model reads: the server's name and a short reason, not a socket or
// process detail (the log has those).
func (s *Server) unavailable(what string, err error) error {
	s.logger.Warn("MCP call failed", "op", what, "error", err)
	reason := "connection lost"
	var we *jsonrpc.Error
	switch {
	case errors.As(err, &we) && we.Code == codeRejected:
		reason = "not reachable"
	case errors.As(err, &we):
		reason = we.Message
	case errors.Is(err, context.DeadlineExceeded):
		reason = "timed out"
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, context.Canceled)
	}
	return fmt.Errorf("%w: %s on the %s server: %s", ErrUnavailable, what, s.cfg.Name, reason)
}

// connection returns the live session, connecting (and for a local
// server, starting it) when there is none.
func (s *Server) connection(ctx context.Context) (*mcp.ClientSession, error) {
	s.mu.Lock()
	cs, closed := s.session, s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("%w: the %s server is closed", ErrUnavailable, s.cfg.Name)
	}
	if cs != nil {
		return cs, nil
	}
	s.connMu.Lock()
	defer s.connMu.Unlock()
	s.mu.Lock()
	cs = s.session
	s.mu.Unlock()
	if cs != nil {
		return cs, nil
	}
	cs, err := s.client.Connect(ctx, s.transport(), nil)
	if err != nil {
		return nil, s.unavailable("connect", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = cs.Close()
		return nil, fmt.Errorf("%w: the %s server is closed", ErrUnavailable, s.cfg.Name)
	}
	s.session = cs
	s.mu.Unlock()
	s.metrics.up.WithLabelValues(s.cfg.Name).Set(1)
	s.logger.Info("MCP server connected")
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		err := cs.Wait()
		// Release what the session still holds (its listeners).
		_ = cs.Close()
		s.mu.Lock()
		lost := s.session == cs
		if lost {
			s.session = nil
		}
		closed := s.closed
		s.mu.Unlock()
		s.metrics.up.WithLabelValues(s.cfg.Name).Set(0)
		if lost && !closed {
			s.logger.Warn("MCP server connection lost; the next call reconnects", "error", err)
		}
	}()
	return cs, nil
}

// transport is a new connection's transport: a fresh process for a local
// server, the endpoint with its headers for a remote one.
func (s *Server) transport() mcp.Transport {
	if s.cfg.Command != "" {
		cmd := exec.Command(s.cfg.Command, s.cfg.Args...) //nolint:gosec,noctx // the operator's configured server; its life is the session's.
		cmd.Env = make([]string, 0, len(s.cfg.EnvValues))
		for _, k := range s.cfg.Env {
			if v, ok := s.cfg.EnvValues[k]; ok {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
		}
		cmd.SysProcAttr = sysProcAttr()
		cmd.Stderr = &logWriter{logger: s.logger}
		return &mcp.CommandTransport{Command: cmd, TerminateDuration: terminateGrace}
	}
	return &mcp.StreamableClientTransport{
		Endpoint:   s.cfg.URL,
		HTTPClient: &http.Client{Transport: headerTransport{base: http.DefaultTransport, headers: s.cfg.HeaderValues}},
		MaxRetries: 1,
	}
}

// headerTransport adds the configured headers to every request.
type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if len(h.headers) > 0 {
		r = r.Clone(r.Context())
		for k, v := range h.headers {
			r.Header.Set(k, v)
		}
	}
	return h.base.RoundTrip(r)
}

// logWriter logs a local server's stderr lines at Debug.
type logWriter struct{ logger *slog.Logger }

func (w *logWriter) Write(p []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.logger.Debug("MCP server stderr", "line", line)
		}
	}
	return len(p), nil
}

// resultText is what the model reads of a result: text content as it is,
// other content described, or the structured content as JSON.
func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		switch c := c.(type) {
		case *mcp.TextContent:
			parts = append(parts, c.Text)
		case *mcp.ImageContent:
			parts = append(parts, "[image "+c.MIMEType+" omitted]")
		case *mcp.AudioContent:
			parts = append(parts, "[audio "+c.MIMEType+" omitted]")
		case *mcp.ResourceLink:
			parts = append(parts, "[resource "+c.URI+"]")
		case *mcp.EmbeddedResource:
			if c.Resource != nil && c.Resource.Text != "" {
				parts = append(parts, c.Resource.Text)
			} else if c.Resource != nil {
				parts = append(parts, "[resource "+c.Resource.URI+"]")
			}
		}
	}
	if len(parts) == 0 && res.StructuredContent != nil {
		if raw, err := json.Marshal(res.StructuredContent); err == nil {
			return string(raw)
		}
	}
	return strings.Join(parts, "\n")
}

// Metrics are the collectors of every Server.
type Metrics struct{ m *metrics }

type metrics struct {
	up    *prometheus.GaugeVec
	tools *prometheus.GaugeVec
	calls *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them on reg (nil: not
// exported).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "parley_mcp_up", Help: "1 while Parley holds a connection to the MCP server.",
		}, []string{"server"}),
		tools: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "parley_mcp_tools", Help: "Tools of the MCP server offered to the LLM.",
		}, []string{"server"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_mcp_calls_total",
			Help: "MCP tool calls by result: ok, tool_error, too_large, error, breaker_open.",
		}, []string{"server", "result"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.up, m.tools, m.calls} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("mcp metrics: %w", err)
			}
		}
	}
	return &Metrics{m: m}, nil
}
