package webrtc

import (
	"sync/atomic"
	"testing"

	"github.com/pion/rtp"

	"github.com/parleyhq/parley/server/internal/audio"
)

// BenchmarkInboundPacket is the receive path of one 20 ms packet after
// the network: RTP unmarshal, reorder buffer, Opus decode to 16 kHz and the
// hand-off of the PCM to the session (dropped here). "read-alloc" is the
// read pion's TrackRemote.ReadRTP does (a new MTU buffer and packet per
// read), "read-reused" the transport's (one buffer, one packet).
func BenchmarkInboundPacket(b *testing.B) {
	enc, err := audio.NewOpusEncoder(audio.OpusSampleRate)
	if err != nil {
		b.Fatal(err)
	}
	tone := make([]int16, enc.FrameSamples())
	for i := range tone {
		tone[i] = int16(4000 * (i%96 - 48) / 48)
	}
	payload, err := enc.Encode(nil, tone)
	if err != nil {
		b.Fatal(err)
	}
	for _, reuse := range []bool{false, true} {
		b.Run(map[bool]string{false: "read-alloc", true: "read-reused"}[reuse], func(b *testing.B) {
			dec, err := audio.NewOpusDecoder(inputRate)
			if err != nil {
				b.Fatal(err)
			}
			p := &peer{stats: &counters{}}
			var filled atomic.Uint64
			rx := &rxState{deliver: func([]byte) error { return nil }, filledTotal: &filled}
			jb := newJitterBuffer(jitterDepth)
			var pcm []int16
			emit := func(payload []byte, _ bool, _ []byte) { pcm, _ = dec.Decode(pcm, payload) }
			wire := make([][]byte, 64)
			for i := range wire {
				pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i),
					Timestamp: uint32(i * rtpTicksPerFrame), SSRC: 1}, Payload: payload}
				if wire[i], err = pkt.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
			buf := make([]byte, rtpReadBuffer)
			var reused rtp.Packet
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				w := wire[i%len(wire)]
				// Sequence numbers run on across the 64 wire packets.
				seq := uint16(i)
				pkt := &reused
				if reuse {
					n := copy(buf, w)
					if err := pkt.Unmarshal(buf[:n]); err != nil {
						b.Fatal(err)
					}
				} else {
					fresh := make([]byte, rtpReadBuffer)
					n := copy(fresh, w)
					pkt = &rtp.Packet{}
					if err := pkt.Unmarshal(fresh[:n]); err != nil {
						b.Fatal(err)
					}
				}
				pkt.SequenceNumber, pkt.Timestamp = seq, uint32(i)*rtpTicksPerFrame
				if !p.deliver(rx, jb, pkt, &pcm, emit) {
					b.Fatal("not delivered")
				}
			}
		})
	}
}
