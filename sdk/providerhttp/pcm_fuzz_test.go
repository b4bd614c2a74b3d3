package providerhttp

import (
	"bytes"
	"io"
	"testing"
)

// chunkReader returns data in reads of the sizes cut gives in turn (1 to
// 256 bytes), as a provider's body arrives in arbitrary pieces.
type chunkReader struct {
	data []byte
	cut  []byte
	i    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(r.data)
	if len(r.cut) > 0 {
		n = int(r.cut[r.i%len(r.cut)]) + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// FuzzReadPCM16 feeds a provider's raw PCM body, cut into arbitrary reads,
// to ReadPCM16: every emitted piece is whole samples, the pieces are the
// body without a trailing odd byte, and odd says whether there was one.
func FuzzReadPCM16(f *testing.F) {
	pcm := bytes.Repeat([]byte{1, 2, 3, 4, 5}, 2000)
	f.Add(pcm[:10], []byte{0})
	f.Add(pcm[:999], []byte{3, 200, 1})
	f.Add(pcm, []byte{})
	f.Add([]byte{}, []byte{7})
	f.Fuzz(func(t *testing.T, body, cut []byte) {
		var got []byte
		odd, err := ReadPCM16(&chunkReader{data: body, cut: cut}, nil, func(b []byte) error {
			if len(b) == 0 || len(b)%2 != 0 || len(b) > pcmReadBytes {
				t.Fatalf("emitted %d bytes", len(b))
			}
			got = append(got, b...)
			return nil
		})
		if err != nil {
			t.Fatalf("error %v", err)
		}
		if want := body[:len(body)&^1]; !bytes.Equal(got, want) {
			t.Fatalf("emitted %d bytes, want %d", len(got), len(want))
		}
		if odd != (len(body)%2 == 1) {
			t.Fatalf("odd %v for %d bytes", odd, len(body))
		}
	})
}
