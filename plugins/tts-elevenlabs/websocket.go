package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/sdk"
	"github.com/parleyhq/parley/sdk/providerhttp"
	"github.com/parleyhq/parley/sdk/sentence"
)

// maxWSMessageBytes bounds one server message (base64 audio of a chunk of
// a few seconds plus alignment arrays).
const maxWSMessageBytes = 4 << 20

// wsInit is the first message on the stream-input WebSocket: a single
// space, the voice settings and the key.
type wsInit struct {
	Text          string         `json:"text"`
	VoiceSettings *voiceSettings `json:"voice_settings,omitempty"`
	XIAPIKey      string         `json:"xi_api_key"`
}

// wsText carries text; an empty Text with Flush asks for the buffered text
// to be spoken, and an empty Text alone ends the input.
type wsText struct {
	Text                 string `json:"text"`
	TryTriggerGeneration bool   `json:"try_trigger_generation,omitempty"`
	Flush                bool   `json:"flush,omitempty"`
}

// wsAlignment is the per-chunk character alignment the server sends.
type wsAlignment struct {
	Chars []string `json:"chars"`
}

// wsOutput is a server message: audio with its alignment, the final
// marker, or an error.
type wsOutput struct {
	Audio               *string      `json:"audio"`
	IsFinal             *bool        `json:"isFinal"`
	Alignment           *wsAlignment `json:"alignment"`
	NormalizedAlignment *wsAlignment `json:"normalizedAlignment"`
	Message             string       `json:"message"`
	Error               string       `json:"error"`
}

// openWebSocket opens a stream on the stream-input endpoint. The
// handshake happens here, so a refused key fails Synthesize itself.
func openWebSocket(ctx context.Context, p streamParams) (sdk.TTSStream, error) {
	q := url.Values{"model_id": {p.cfg.ModelID}, "output_format": {p.outputFormat}}
	endpoint := strings.TrimSuffix(p.cfg.BaseURL, "/") + "/v1/text-to-speech/" +
		url.PathEscape(p.voiceID) + "/stream-input?" + q.Encode()
	dialCtx, cancel := context.WithTimeout(ctx, time.Duration(p.cfg.ConnectTimeout))
	defer cancel()
	conn, resp, err := websocket.Dial(dialCtx, endpoint, &websocket.DialOptions{
		HTTPClient: p.cfg.wsClient,
		HTTPHeader: http.Header{"xi-api-key": {p.cfg.apiKey}},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, providerhttp.ErrorFromResponse(providerName, resp)
		}
		if ctx.Err() == nil && dialCtx.Err() != nil {
			return nil, providerhttp.Unavailable(providerName, "connect timeout", err)
		}
		return nil, providerhttp.ErrorFromTransport(ctx, providerName, err)
	}
	conn.SetReadLimit(maxWSMessageBytes)
	s := &wsSession{streamParams: p, conn: conn}
	init := wsInit{Text: " ", XIAPIKey: p.cfg.apiKey}
	if p.voiceSettings != (voiceSettings{}) {
		vs := p.voiceSettings
		init.VoiceSettings = &vs
	}
	if err := s.send(ctx, init); err != nil {
		_ = conn.CloseNow()
		return nil, providerhttp.ErrorFromTransport(ctx, providerName, err)
	}
	return sdk.NewTTSStream(ctx, s.run), nil
}

// wsSession is one stream on the stream-input WebSocket. The writer (run)
// cuts text into sentences and sends each, ending with a space as the API
// asks; Flush sends {"text":"","flush":true}; CloseSend sends {"text":""}
// and waits for the final message. A reader goroutine decodes audio and
// maps each chunk to the sentences its alignment covers.
type wsSession struct {
	streamParams
	conn *websocket.Conn

	split sentence.Splitter

	mu        sync.Mutex
	sent      []wsSentence // sentences sent, in order
	closeSent bool
}

// wsSentence is a sentence sent and its length in the server's text.
type wsSentence struct {
	sentence.Span
	runes int
}

func (s *wsSession) send(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("elevenlabs: encode message: %w", err)
	}
	return s.conn.Write(ctx, websocket.MessageText, b)
}

func (s *wsSession) run(ctx context.Context, in <-chan sdk.TTSInput, emit func(sdk.AudioChunk) error) error {
	readDone := make(chan error, 1)
	go func() { readDone <- s.readLoop(ctx, emit) }()
	readerFinished, err := s.writeLoop(ctx, in, readDone)
	_ = s.conn.CloseNow()
	if !readerFinished {
		<-readDone //nolint:errcheck // the writer's error already says why the stream ended
	}
	return err
}

func (s *wsSession) writeLoop(ctx context.Context, in <-chan sdk.TTSInput, readDone <-chan error) (readerFinished bool, err error) {
	keepAlive := time.Duration(s.cfg.KeepAlive)
	idle := time.NewTimer(keepAlive)
	defer idle.Stop()
	for {
		select {
		case msg, ok := <-in:
			if !ok {
				return s.closeInput(ctx, readDone)
			}
			var werr error
			if msg.Flush {
				werr = s.sendSentences(ctx, s.split.Flush())
				if werr == nil {
					werr = s.send(ctx, wsText{Text: "", Flush: true})
				}
			} else {
				werr = s.sendSentences(ctx, s.split.Add(msg.Text))
			}
			if werr != nil {
				return s.writeFailed(ctx, werr, readDone)
			}
			idle.Reset(keepAlive)
		case <-idle.C:
			// A lone space keeps the connection open without generating audio.
			if werr := s.send(ctx, wsText{Text: " "}); werr != nil {
				return s.writeFailed(ctx, werr, readDone)
			}
			idle.Reset(keepAlive)
		case rerr := <-readDone:
			if rerr == nil {
				rerr = providerhttp.Unavailable(providerName, "connection closed before the stream ended", nil)
			}
			return true, rerr
		case <-ctx.Done():
			return false, providerhttp.ErrorFromTransport(ctx, providerName, ctx.Err())
		}
	}
}

func (s *wsSession) sendSentences(ctx context.Context, sentences []sentence.Span) error {
	for _, sn := range sentences {
		text := sn.Text + " "
		s.mu.Lock()
		s.sent = append(s.sent, wsSentence{Span: sn, runes: utf8.RuneCountInString(text)})
		s.mu.Unlock()
		if err := s.send(ctx, wsText{Text: text, TryTriggerGeneration: true}); err != nil {
			return err
		}
	}
	return nil
}

// closeInput sends the pending text and the end of input, then waits for
// the server to finish.
func (s *wsSession) closeInput(ctx context.Context, readDone <-chan error) (bool, error) {
	err := s.sendSentences(ctx, s.split.Flush())
	if err == nil {
		s.mu.Lock()
		s.closeSent = true
		s.mu.Unlock()
		err = s.send(ctx, wsText{Text: ""})
	}
	if err != nil {
		return s.writeFailed(ctx, err, readDone)
	}
	wait := time.NewTimer(time.Duration(s.cfg.CloseTimeout))
	defer wait.Stop()
	select {
	case rerr := <-readDone:
		return true, rerr
	case <-wait.C:
		return false, providerhttp.Unavailable(providerName, fmt.Sprintf("no final message %s after the end of input", time.Duration(s.cfg.CloseTimeout)), nil)
	case <-ctx.Done():
		return false, providerhttp.ErrorFromTransport(ctx, providerName, ctx.Err())
	}
}

// writeFailed prefers the reader's account of a broken connection (a close
// frame says why) over the bare write error.
func (s *wsSession) writeFailed(ctx context.Context, err error, readDone <-chan error) (bool, error) {
	if ctx.Err() != nil {
		return false, providerhttp.ErrorFromTransport(ctx, providerName, ctx.Err())
	}
	_ = s.conn.CloseNow()
	if rerr := <-readDone; rerr != nil {
		return true, rerr
	}
	return true, providerhttp.Unavailable(providerName, "write failed", err)
}

// readLoop emits audio until the final message (nil) or the connection
// ends (an error unless the input was closed and the server closed
// normally).
func (s *wsSession) readLoop(ctx context.Context, emit func(sdk.AudioChunk) error) error {
	var carry []byte // an odd byte left from the previous message
	cursor := 0      // characters of the server's text already spoken
	for {
		typ, data, err := s.conn.Read(ctx)
		if err != nil {
			return s.readError(ctx, err)
		}
		if typ != websocket.MessageText {
			continue
		}
		m, err := decodeWSMessage(data)
		if err != nil {
			return err
		}
		if m.audio {
			pcm := append(carry, m.pcm...)
			whole := len(pcm) &^ 1
			carry = append([]byte(nil), pcm[whole:]...)
			start, end := s.span(cursor, m.chars)
			cursor += m.chars
			if whole > 0 {
				chunk := sdk.AudioChunk{PCM: pcm[:whole], SampleRate: s.sampleRate, TextStart: start, TextEnd: end}
				if err := emit(chunk); err != nil {
					return err
				}
			}
		}
		if m.final {
			return nil
		}
	}
}

// wsMessage is one decoded server message.
type wsMessage struct {
	// audio says the message carried audio; pcm is it decoded (possibly
	// of odd length: a sample may straddle two messages) and chars the
	// characters of its alignment.
	audio bool
	pcm   []byte
	chars int
	// final marks the end of the stream's audio.
	final bool
}

// decodeWSMessage decodes one text message from the stream-input
// endpoint. A server-reported error is returned as wsServerError maps it;
// a message that is not JSON, or audio that is not base64, is an
// unavailable error.
func decodeWSMessage(data []byte) (wsMessage, error) {
	var m wsOutput
	if err := json.Unmarshal(data, &m); err != nil {
		return wsMessage{}, providerhttp.Unavailable(providerName, "malformed message", err)
	}
	if m.Error != "" || (m.Message != "" && m.Audio == nil && m.IsFinal == nil) {
		return wsMessage{}, wsServerError(firstNonEmpty(m.Message, m.Error), m.Error)
	}
	var out wsMessage
	if m.Audio != nil && *m.Audio != "" {
		pcm, err := base64.StdEncoding.DecodeString(*m.Audio)
		if err != nil {
			return wsMessage{}, providerhttp.Unavailable(providerName, "malformed audio", err)
		}
		out.audio, out.pcm = true, pcm
		if m.Alignment != nil {
			out.chars = len(m.Alignment.Chars)
		}
	}
	out.final = m.IsFinal != nil && *m.IsFinal
	return out, nil
}

// span returns the byte span of the sentences covering chars characters
// of the server's text from cursor on. Without alignment (chars == 0) it
// is the sentence at the cursor. Spans are clamped to the text sent.
func (s *wsSession) span(cursor, chars int) (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sent) == 0 {
		return 0, 0
	}
	first := s.sentenceAt(cursor)
	last := first
	if chars > 0 {
		last = s.sentenceAt(cursor + chars - 1)
	}
	return s.sent[first].Start, s.sent[last].End
}

// sentenceAt returns the index of the sent sentence holding character
// pos of the server's text (the last one when pos is past the end).
func (s *wsSession) sentenceAt(pos int) int {
	for i, sn := range s.sent {
		if pos < sn.runes {
			return i
		}
		pos -= sn.runes
	}
	return len(s.sent) - 1
}

func (s *wsSession) readError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return providerhttp.ErrorFromTransport(ctx, providerName, ctx.Err())
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return providerhttp.ErrorFromTransport(ctx, providerName, err)
	}
	s.mu.Lock()
	closeSent := s.closeSent
	s.mu.Unlock()
	if ce.Code == websocket.StatusNormalClosure && closeSent {
		return nil
	}
	e := wsServerError(firstNonEmpty(ce.Reason, "connection closed"), "")
	e.Details["close_code"] = strconv.Itoa(int(ce.Code))
	if ce.Code != websocket.StatusPolicyViolation {
		e.Code = sdk.CodeUnavailable
	}
	e.Err = err
	return e
}

// wsServerError maps an error the server reported in a message or in the
// reason of a policy-violation close. The WebSocket API has no status
// codes, so the reason text decides: a key problem is Unauthenticated, a
// quota or rate limit ResourceExhausted, anything else InvalidArgument.
func wsServerError(reason, kind string) *sdk.Error {
	lower := strings.ToLower(reason + " " + kind)
	code := sdk.CodeInvalidArgument
	switch {
	case strings.Contains(lower, "api key") || strings.Contains(lower, "api_key") || strings.Contains(lower, "unauthor"):
		code = sdk.CodeUnauthenticated
	case strings.Contains(lower, "quota") || strings.Contains(lower, "limit") || strings.Contains(lower, "too many"):
		code = sdk.CodeResourceExhausted
	}
	return &sdk.Error{
		Code:    code,
		Message: providerName + ": " + reason,
		Details: map[string]string{providerhttp.DetailProvider: providerName},
	}
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
