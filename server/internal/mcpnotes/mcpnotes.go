// Package mcpnotes is a small MCP server Parley ships so that the offline
// demo shows an agent calling MCP tools (`parley mcp-notes`, started over
// stdio by the offline config): a note list kept in memory for as long as
// the process lives, with add_note, list_notes and clear_notes. It is a
// real MCP server (the official Go SDK), not a fake: any MCP client can use
// it, over stdio or, with --http, Streamable HTTP.
package mcpnotes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Limits of the note list.
const (
	maxNotes     = 100
	maxNoteChars = 500
)

// Tool names.
const (
	ToolAdd   = "add_note"
	ToolList  = "list_notes"
	ToolClear = "clear_notes"
)

// notes is the in-memory list.
type notes struct {
	mu    sync.Mutex
	items []string
}

type addIn struct {
	Text string `json:"text" jsonschema:"what to remember, one short sentence"`
}

type none struct{}

// NewServer returns the notes MCP server; version is reported in the
// handshake.
func NewServer(version string) *mcp.Server {
	n := &notes{}
	s := mcp.NewServer(&mcp.Implementation{Name: "parley-notes", Version: version}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: ToolAdd, Description: "Remembers a short note for the user."}, n.add)
	mcp.AddTool(s, &mcp.Tool{Name: ToolList, Description: "Reads back the user's notes, oldest first."}, n.list)
	mcp.AddTool(s, &mcp.Tool{Name: ToolClear, Description: "Forgets all of the user's notes."}, n.clear)
	return s
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func failure(s string) *mcp.CallToolResult {
	r := text(s)
	r.IsError = true
	return r
}

func (n *notes) add(_ context.Context, _ *mcp.CallToolRequest, in addIn) (*mcp.CallToolResult, any, error) {
	t := strings.TrimSpace(in.Text)
	switch {
	case t == "":
		return failure("there is nothing to note"), nil, nil
	case len(t) > maxNoteChars:
		return failure(fmt.Sprintf("a note is at most %d characters", maxNoteChars)), nil, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.items) >= maxNotes {
		return failure(fmt.Sprintf("the list is full (%d notes)", maxNotes)), nil, nil
	}
	n.items = append(n.items, t)
	return text(fmt.Sprintf("Noted: %s. You have %s.", t, count(len(n.items)))), nil, nil
}

func (n *notes) list(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.items) == 0 {
		return text("You have no notes."), nil, nil
	}
	parts := make([]string, len(n.items))
	for i, t := range n.items {
		parts[i] = strconv.Itoa(i+1) + ": " + t
	}
	return text("You have " + count(len(n.items)) + ". " + strings.Join(parts, ". ") + "."), nil, nil
}

func (n *notes) clear(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := len(n.items)
	n.items = nil
	return text(fmt.Sprintf("Forgot %s.", count(k))), nil, nil
}

func count(k int) string {
	if k == 1 {
		return "one note"
	}
	return strconv.Itoa(k) + " notes"
}

// ServeStdio serves one client on stdin/stdout until it disconnects or ctx
// ends.
func ServeStdio(ctx context.Context, version string) error {
	err := NewServer(version).Run(ctx, &mcp.StdioTransport{})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// ServeHTTP serves the notes over Streamable HTTP at / on ln until ctx
// ends; every client shares one note list.
func ServeHTTP(ctx context.Context, ln net.Listener, version string) error {
	srv := NewServer(version)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	hs := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout}
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// readHeaderTimeout bounds a request's headers.
const readHeaderTimeout = 10 * time.Second
