//go:build speexeval

package vad

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/parleyhq/parley/server/internal/audio"
)

// denoise runs a fresh Speex denoiser over s, frame by frame.
func denoise(s []int16) []int16 {
	d := newSpeexDenoiser()
	defer d.close()
	out := append([]int16(nil), s...)
	for i := 0; i+audio.FrameSamples <= len(out); i += audio.FrameSamples {
		d.process(out[i : i+audio.FrameSamples])
	}
	return out
}

// wavBytes is s as a 16 kHz mono PCM16 WAV file.
func wavBytes(s []int16) []byte {
	var b bytes.Buffer
	n := len(s) * 2
	hdr := []byte("RIFF")
	le32 := func(v int) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	le16 := func(v int) []byte { return []byte{byte(v), byte(v >> 8)} }
	b.Write(hdr)
	b.Write(le32(36 + n))
	b.WriteString("WAVEfmt ")
	b.Write(le32(16))
	b.Write(le16(1))
	b.Write(le16(1))
	b.Write(le32(16000))
	b.Write(le32(32000))
	b.Write(le16(2))
	b.Write(le16(16))
	b.WriteString("data")
	b.Write(le32(n))
	b.Write(audio.EncodePCM16LE(nil, s))
	return b.Bytes()
}

// words lower-cases s and splits it into words without punctuation.
func words(s string) []string {
	s = strings.ToLower(s)
	r := strings.NewReplacer("?", "", ".", "", ",", "")
	return strings.Fields(r.Replace(s))
}

// editDistance is the word-level Levenshtein distance.
func editDistance(a, b []string) int {
	d := make([]int, len(b)+1)
	for j := range d {
		d[j] = j
	}
	for i := 1; i <= len(a); i++ {
		prev := d[0]
		d[0] = i
		for j := 1; j <= len(b); j++ {
			cur := d[j]
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			d[j] = min(d[j]+1, d[j-1]+1, prev+c)
			prev = cur
		}
	}
	return d[len(b)]
}

// recognize runs Debian's pocketsphinx_continuous on s.
func recognize(t *testing.T, dir, name string, s []int16) string {
	p := filepath.Join(dir, name+".wav")
	require.NoError(t, os.WriteFile(p, wavBytes(s), 0o600))
	out, err := exec.Command("pocketsphinx_continuous", "-infile", p, "-logfn", "/dev/null").Output()
	require.NoError(t, err)
	return string(out)
}

// TestDenoiseEvaluation measures what the Speex denoiser before the VAD
// and STT does: segmenter and detector F1 of both engines on the
// generated tracks, and pocketsphinx word error rate on the four flite
// voices (five sentences each), with and without denoise. It asserts
// nothing: the figures are in server/BENCHMARKS.md. make vad-denoise-eval
// runs it (≈ 9 minutes).
func TestDenoiseEvaluation(t *testing.T) {
	engines := evalEngines(t)
	voices := evalVoices()
	speech := synthesizeAll(t, t.TempDir(), voices, evalSentences())
	var tracks []track
	for i, v := range voices {
		tracks = append(tracks, buildTrack(t, v, speech[i]))
	}
	conditions := []condition{{noise: noiseNone}, {noiseWhite, 10}, {noisePink, 10}, {noiseBabble, 20}}
	ref := words(strings.Join(evalSentences(), " "))
	dir := t.TempDir()
	var table strings.Builder
	for _, c := range conditions {
		for _, dn := range []bool{false, true} {
			var sc [2]scores
			var mu sync.Mutex
			var errs, total int
			var wg sync.WaitGroup
			sem := make(chan struct{}, 2)
			for ti, tr := range tracks {
				var noise []float64
				switch c.noise {
				case noiseNone:
				case noiseBabble:
					noise = makeBabble(speech, ti, len(tr.samples), uint64(ti+100))
				default:
					noise = makeNoise(c.noise, len(tr.samples), uint64(ti+200))
				}
				s := mix(tr, c.snrDB, noise)
				if dn {
					s = denoise(s)
				}
				for ei, eng := range engines {
					evaluate(tr, s, &sc[ei], eng.new())
				}
				if voices[ti].engine != "flite" {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					hyp := words(recognize(t, dir, fmt.Sprintf("%s-%d-%t", strings.ReplaceAll(c.String(), " ", ""), ti, dn), s))
					mu.Lock()
					errs += editDistance(ref, hyp)
					total += len(ref)
					mu.Unlock()
				}()
			}
			wg.Wait()
			t.Logf("%-14s denoise=%-5t | energy seg F1 %.3f det F1 %.3f | silero seg F1 %.3f det F1 %.3f | pocketsphinx WER %.3f",
				c, dn, sc[0].segmenter.f1(), sc[0].detector.f1(), sc[1].segmenter.f1(), sc[1].detector.f1(), float64(errs)/float64(total))
			fmt.Fprintf(&table, "%-14s denoise=%-5t | energy seg F1 %.3f det F1 %.3f | silero seg F1 %.3f det F1 %.3f | pocketsphinx WER %.3f\n",
				c, dn, sc[0].segmenter.f1(), sc[0].detector.f1(), sc[1].segmenter.f1(), sc[1].detector.f1(), float64(errs)/float64(total))
		}
	}
	t.Log("\n" + table.String())
}
