package providerhttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadPCM16(t *testing.T) {
	pcm := bytes.Repeat([]byte{1, 2, 3, 4, 5}, 2000) // 10000 bytes: several buffers
	tests := []struct {
		name string
		r    io.Reader
		want []byte
		odd  bool
	}{
		{"one byte per read", iotest.OneByteReader(bytes.NewReader(pcm[:10])), pcm[:10], false},
		{"odd reads", iotest.HalfReader(bytes.NewReader(pcm[:999])), pcm[:998], true},
		{"large body", bytes.NewReader(pcm), pcm, false},
		{"data with EOF", iotest.DataErrReader(bytes.NewReader(pcm[:7])), pcm[:6], true},
		{"empty", bytes.NewReader(nil), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []byte
			odd, err := ReadPCM16(tt.r, nil, func(b []byte) error {
				assert.NotEmpty(t, b, "never an empty call")
				assert.Zero(t, len(b)%2, "whole samples only")
				assert.LessOrEqual(t, len(b), pcmReadBytes)
				got = append(got, b...)
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.odd, odd)
		})
	}
}

func TestReadPCM16Errors(t *testing.T) {
	boom := errors.New("boom")
	_, err := ReadPCM16(iotest.ErrReader(io.ErrUnexpectedEOF), nil, func([]byte) error { return nil })
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "read errors come back unchanged")
	_, err = ReadPCM16(bytes.NewReader([]byte{1, 2}), nil, func([]byte) error { return boom })
	assert.ErrorIs(t, err, boom, "emit errors come back unchanged")
}

// stallReader returns its data once, then blocks until ctx is done.
type stallReader struct {
	ctx  context.Context //nolint:containedctx // test reader bound to one request.
	data []byte
}

func (r *stallReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

func TestReadPCM16IdleTimeoutMeasuresTheProviderOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 10 * time.Millisecond
		ctx, wd := NewWatchdog(t.Context(), idle, ErrIdleTimeout)
		defer wd.Stop()
		start := time.Now()
		var emitted time.Time
		_, err := ReadPCM16(&stallReader{ctx: ctx, data: []byte{1, 2, 3, 4}}, wd, func([]byte) error {
			time.Sleep(time.Hour) // a slow consumer
			assert.NoError(t, ctx.Err(), "the countdown is paused while emit runs")
			emitted = time.Now()
			return nil
		})
		require.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, context.Cause(ctx), ErrIdleTimeout)
		assert.Equal(t, time.Hour, emitted.Sub(start))
		assert.Equal(t, idle, time.Since(emitted), "the countdown restarts after emit")
	})
}
