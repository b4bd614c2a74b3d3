package recording

import "errors"

// ErrSessionID: the session id cannot name a file (only a-z A-Z 0-9 _ -,
// at most 128 bytes, are written).
var ErrSessionID = errors.New("recording: session id unfit for a file name")

// ErrNotRecording: the file is not a recording this package wrote (wrong
// WAV format, or no header line in the event log).
var ErrNotRecording = errors.New("recording: not a Parley recording")
