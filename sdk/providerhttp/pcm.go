package providerhttp

import (
	"errors"
	"io"
)

// pcmReadBytes is ReadPCM16's read buffer: each read becomes at most one
// call of emit.
const pcmReadBytes = 4096

// ReadPCM16 reads 16-bit PCM, such as a streamed speech response body,
// from r until EOF and passes it to emit in whole samples as it arrives;
// pcm is only valid during the call. A sample split between two reads is
// carried over; a trailing odd byte cannot be played and is dropped, which
// odd reports. With a watchdog, its countdown restarts after every read
// and is paused while emit runs, so that a slow consumer never looks like
// a stalled provider. Errors of r and of emit are returned unchanged; EOF
// is not an error.
func ReadPCM16(r io.Reader, wd *Watchdog, emit func(pcm []byte) error) (odd bool, err error) {
	buf := make([]byte, pcmReadBytes)
	have := 0 // bytes of an incomplete sample carried at buf[0:have]
	for {
		n, rerr := r.Read(buf[have:])
		total := have + n
		whole := total &^ 1
		if whole > 0 {
			if wd != nil {
				wd.Pause()
			}
			if err := emit(buf[:whole]); err != nil {
				return false, err
			}
		}
		if wd != nil {
			wd.Restart()
		}
		have = total - whole
		if have > 0 {
			buf[0] = buf[whole]
		}
		switch {
		case errors.Is(rerr, io.EOF):
			return have > 0, nil
		case rerr != nil:
			return false, rerr
		}
	}
}
