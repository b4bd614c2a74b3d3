// Command faultplugin is a Parley plugin for the plugin host's tests that
// misbehaves on request. It serves the kind given by -kind (stt, llm or
// tts) and can be told to fail:
//
//   - through its Configure settings: "configure_error" (a code: Configure
//     fails), "fail_while_exists" + "fail_code" (opening a stream fails with
//     that code while the file exists), "fail_on_input_code" (a stream fails
//     with that code when its first input arrives, before any output),
//     "label" (prefixed to every output so tests see who answered),
//     "hang" (accept every call and its input, never answer until
//     cancelled);
//   - through magic input — STT audio or TTS text starting with, or an LLM
//     user message equal to: CRASH (os.Exit mid-stream), HANG (never answer
//     until cancelled), STALL (answer once, then never again), ERR:<code>
//     (fail with that sdk code); STT audio "ENV" answers with the sorted
//     names of the plugin's environment variables;
//   - through flags: -protocol 2 speaks plugin protocol version 2 with plain
//     go-plugin, -nohandshake never starts serving.
//
// Otherwise it echoes: STT emits a partial per audio input (the byte count)
// when interim results are on and a final on flush ("final:<total bytes>");
// LLM streams the last user message word by word, then Done; TTS returns
// two bytes of "audio" per byte of text, one chunk per text input.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/parleyhq/parley/sdk"
)

const (
	magicCrash = "CRASH"
	magicHang  = "HANG"
	magicStall = "STALL"
	magicErr   = "ERR:"
	// magicEnv asks STT for the names of its environment variables.
	magicEnv = "ENV"
	// crashExitCode is the exit status of a CRASH.
	crashExitCode = 3
	// bytesPerTextByte is how much fake audio TTS returns per text byte.
	bytesPerTextByte = 2
)

func main() {
	kind := flag.String("kind", "stt", "plugin kind to serve: stt, llm or tts")
	protocol := flag.Int("protocol", sdk.ProtocolVersion, "plugin protocol version to speak")
	noHandshake := flag.Bool("nohandshake", false, "never serve (tests the host's start timeout)")
	flag.Parse()

	if *noHandshake {
		select {}
	}
	if *protocol != sdk.ProtocolVersion {
		serveOtherProtocol(*protocol)
		return
	}
	p := &fault{kind: sdk.Kind(*kind)}
	switch p.kind {
	case sdk.KindSTT:
		sdk.Serve(sdk.ServeConfig{STT: &sttFault{p}})
	case sdk.KindLLM:
		sdk.Serve(sdk.ServeConfig{LLM: &llmFault{p}})
	case sdk.KindTTS:
		sdk.Serve(sdk.ServeConfig{TTS: &ttsFault{p}})
	default:
		fmt.Fprintf(os.Stderr, "faultplugin: unknown kind %q\n", *kind)
		os.Exit(2)
	}
}

// settings are the plugin's Configure settings.
type settings struct {
	ConfigureError  sdk.Code `json:"configure_error"`
	FailWhileExists string   `json:"fail_while_exists"`
	FailCode        sdk.Code `json:"fail_code"`
	FailOnInputCode sdk.Code `json:"fail_on_input_code"`
	Label           string   `json:"label"`
	Hang            bool     `json:"hang"`
}

// fault is what all three kinds share.
type fault struct {
	kind sdk.Kind
	mu   sync.Mutex
	set  settings
}

func (p *fault) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "faultplugin", Version: "1.2.3", Kind: p.kind}, nil
}

func (p *fault) Configure(_ context.Context, raw json.RawMessage) error {
	var s settings
	if err := json.Unmarshal(raw, &s); err != nil {
		return sdk.Errorf(sdk.CodeInvalidArgument, "settings: %v", err)
	}
	if s.ConfigureError != "" {
		return sdk.Errorf(s.ConfigureError, "configure told to fail")
	}
	p.mu.Lock()
	p.set = s
	p.mu.Unlock()
	return nil
}

func (p *fault) settings() settings {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.set
}

// openError is the error opening a stream fails with, if any.
func (p *fault) openError() error {
	s := p.settings()
	if s.FailWhileExists == "" {
		return nil
	}
	if _, err := os.Stat(s.FailWhileExists); err != nil {
		return nil
	}
	code := s.FailCode
	if code == "" {
		code = sdk.CodeUnavailable
	}
	return sdk.Errorf(code, "told to fail while %s exists", s.FailWhileExists)
}

// magic acts on a magic input: it exits, blocks until ctx is done, or
// returns the error to fail with. stall says STALL was seen.
func magic(ctx context.Context, in string) (stall bool, err error) {
	switch {
	case strings.HasPrefix(in, magicCrash):
		os.Exit(crashExitCode)
	case strings.HasPrefix(in, magicHang):
		<-ctx.Done()
		return false, ctx.Err()
	case strings.HasPrefix(in, magicStall):
		return true, nil
	case strings.HasPrefix(in, magicErr):
		code := sdk.Code(strings.TrimSpace(strings.TrimPrefix(in, magicErr)))
		return false, &sdk.Error{Code: code, Message: "told to fail", RetryAfter: 0}
	}
	return false, nil
}

type sttFault struct{ *fault }

func (p *sttFault) Transcribe(ctx context.Context, cfg sdk.STTConfig) (sdk.STTStream, error) {
	if err := p.openError(); err != nil {
		return nil, err
	}
	s := p.settings()
	return sdk.NewSTTStream(ctx, func(ctx context.Context, in <-chan sdk.STTInput, emit func(sdk.TranscriptEvent) error) error {
		total := 0
		first := true
		for msg := range in {
			if s.Hang {
				continue
			}
			if first && s.FailOnInputCode != "" {
				return sdk.Errorf(s.FailOnInputCode, "told to fail on first input")
			}
			first = false
			if msg.Flush {
				if err := emit(sdk.TranscriptEvent{Text: fmt.Sprintf("%sfinal:%d", s.Label, total), Final: true, Confidence: 1}); err != nil {
					return err
				}
				continue
			}
			if string(msg.Audio) == magicEnv {
				if err := emit(sdk.TranscriptEvent{Text: envNames()}); err != nil {
					return err
				}
				continue
			}
			stall, err := magic(ctx, string(msg.Audio))
			if err != nil {
				return err
			}
			total += len(msg.Audio)
			if cfg.InterimResults || stall {
				if err := emit(sdk.TranscriptEvent{Text: fmt.Sprintf("%s%d", s.Label, len(msg.Audio))}); err != nil {
					return err
				}
			}
			if stall {
				<-ctx.Done()
				return ctx.Err()
			}
		}
		return hang(ctx, s.Hang)
	}), nil
}

// hang blocks until ctx is done if on (the "hang" setting).
func hang(ctx context.Context, on bool) error {
	if !on {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

// envNames returns the sorted names of the process's environment.
func envNames() string {
	var names []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

type llmFault struct{ *fault }

func (p *llmFault) Generate(ctx context.Context, req sdk.GenerateRequest) (sdk.LLMStream, error) {
	if err := p.openError(); err != nil {
		return nil, err
	}
	s := p.settings()
	var last string
	for _, m := range req.Messages {
		if m.Role == sdk.RoleUser {
			last = m.Content
		}
	}
	return sdk.NewLLMStream(ctx, func(ctx context.Context, emit func(sdk.GenerateEvent) error) error {
		if s.Hang {
			return hang(ctx, true)
		}
		if s.FailOnInputCode != "" {
			return sdk.Errorf(s.FailOnInputCode, "told to fail before output")
		}
		stall, err := magic(ctx, last)
		if err != nil {
			return err
		}
		if stall {
			if err := emit(sdk.GenerateEvent{TextDelta: s.Label + "stalling"}); err != nil {
				return err
			}
			<-ctx.Done()
			return ctx.Err()
		}
		for _, w := range strings.Fields(last) {
			if err := emit(sdk.GenerateEvent{TextDelta: s.Label + w}); err != nil {
				return err
			}
		}
		return emit(sdk.GenerateEvent{Done: &sdk.Done{StopReason: sdk.StopEndTurn}})
	}), nil
}

type ttsFault struct{ *fault }

func (p *ttsFault) Synthesize(ctx context.Context, cfg sdk.TTSConfig) (sdk.TTSStream, error) {
	if err := p.openError(); err != nil {
		return nil, err
	}
	s := p.settings()
	return sdk.NewTTSStream(ctx, func(ctx context.Context, in <-chan sdk.TTSInput, emit func(sdk.AudioChunk) error) error {
		offset := 0
		first := true
		for msg := range in {
			if s.Hang {
				continue
			}
			if first && s.FailOnInputCode != "" {
				return sdk.Errorf(s.FailOnInputCode, "told to fail on first input")
			}
			first = false
			if msg.Flush {
				continue
			}
			stall, err := magic(ctx, msg.Text)
			if err != nil {
				return err
			}
			pcm := make([]byte, bytesPerTextByte*len(msg.Text))
			copy(pcm, s.Label)
			if err := emit(sdk.AudioChunk{PCM: pcm, SampleRate: cfg.SampleRate, TextStart: offset, TextEnd: offset + len(msg.Text)}); err != nil {
				return err
			}
			offset += len(msg.Text)
			if stall {
				<-ctx.Done()
				return ctx.Err()
			}
		}
		return hang(ctx, s.Hang)
	}), nil
}
