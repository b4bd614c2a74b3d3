package webrtc

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/parleyhq/parley/server/internal/audio"
)

// rxRecorder records what an rxState hands the session, in frames.
type rxRecorder struct {
	frames []int
	busy   bool
	total  atomic.Uint64
}

func (r *rxRecorder) state() *rxState {
	return &rxState{
		deliver: func(pcm []byte) error { r.frames = append(r.frames, len(pcm)/audio.FrameBytes); return nil },
		offer: func(pcm []byte) (bool, error) {
			if r.busy {
				return false, nil
			}
			r.frames = append(r.frames, len(pcm)/audio.FrameBytes)
			return true, nil
		},
		filledTotal: &r.total,
	}
}

// A pause after a quiet frame is filled with the silence owed by the
// wall clock once it passes the hold; when the next packet comes with a
// timestamp jump, only the frames not yet filled are added, so the total
// matches the sender's clock.
func TestDTXPauseFilledToTheSendersClock(t *testing.T) {
	var rec rxRecorder
	rx := rec.state()
	t0 := time.Unix(1000, 0)
	rx.packet(t0, 10, 9600)
	rx.frame(make([]int16, audio.FrameSamples)) // quiet
	rx.tick(t0.Add(2 * frameDuration))
	assert.Empty(t, rec.frames, "within the hold: nothing")
	rx.tick(t0.Add(3 * frameDuration))
	rx.tick(t0.Add(5 * frameDuration))
	assert.Equal(t, []int{3, 2}, rec.frames, "the frames owed by the clock")
	rec.busy = true
	rx.tick(t0.Add(7 * frameDuration))
	rec.busy = false
	rx.tick(t0.Add(8 * frameDuration))
	assert.Equal(t, []int{3, 2, 3}, rec.frames, "a busy session gets the owed frames at the next tick")
	// The next DTX packet, 400 ms (20 frames) of RTP clock later.
	rx.packet(t0.Add(20*frameDuration), 11, 9600+20*rtpTicksPerFrame)
	assert.Equal(t, []int{3, 2, 3, 11}, rec.frames, "19 frames missing in all")
	assert.Equal(t, uint64(19), rec.total.Load())
}

// A network stall in the middle of speech (a loud last frame) is not
// papered over, and a sender that stops altogether gets at most a second.
func TestDTXFillsOnlyAfterQuietAndBounded(t *testing.T) {
	var rec rxRecorder
	rx := rec.state()
	t0 := time.Unix(1000, 0)
	rx.packet(t0, 1, 0)
	loud := make([]int16, audio.FrameSamples)
	loud[7] = 12000
	rx.frame(loud)
	rx.tick(t0.Add(10 * frameDuration))
	assert.Empty(t, rec.frames, "loud: no fill")
	// A packet lost in between (sequence gap): the reorder buffer's job.
	rx.packet(t0.Add(12*frameDuration), 3, 2*rtpTicksPerFrame)
	assert.Empty(t, rec.frames, "a sequence gap is loss, not DTX")

	rx.frame(make([]int16, audio.FrameSamples))
	rx.tick(t0.Add(12*frameDuration + 10*time.Second))
	assert.Equal(t, []int{dtxMaxFillFrames}, rec.frames, "bounded")
	rx.tick(t0.Add(12*frameDuration + 20*time.Second))
	assert.Equal(t, []int{dtxMaxFillFrames}, rec.frames, "and no more")
}

func TestWithDTX(t *testing.T) {
	in := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:0 PCMU/8000\r\n"
	assert.Equal(t, "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\na=rtpmap:0 PCMU/8000\r\n", withDTX(in))
	// Already said (either way): unchanged.
	said := "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 usedtx=0\r\n"
	assert.Equal(t, said, withDTX(said))
	// No fmtp line: one is added.
	assert.Equal(t, "a=rtpmap:96 OPUS/48000/2\na=fmtp:96 usedtx=1\n", withDTX("a=rtpmap:96 OPUS/48000/2\n"))
}
