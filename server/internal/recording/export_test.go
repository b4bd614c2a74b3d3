package recording

import (
	"errors"
	"io"
)

// ErrDiskFull is what FailAfter's files return once full.
var ErrDiskFull = errors.New("test: no space left on device")

// FailAfter makes st's files fail every write once n bytes were written
// to them (a disk that fills up mid-call).
func FailAfter(st *Store, n int64) {
	st.create = func(path string) (file, error) {
		f, err := createFile(path)
		if err != nil {
			return nil, err
		}
		return &fullFile{file: f, left: n}, nil
	}
}

type fullFile struct {
	file
	left int64
}

func (f *fullFile) Write(p []byte) (int, error) {
	if int64(len(p)) > f.left {
		n, _ := f.file.Write(p[:f.left])
		f.left = 0
		return n, ErrDiskFull
	}
	f.left -= int64(len(p))
	return f.file.Write(p)
}

var _ io.WriterAt = (*fullFile)(nil)
