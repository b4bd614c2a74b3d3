package sphinx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/parleyhq/parley/sdk"
)

// Defaults for Debian's pocketsphinx-en-us package and the pool.
const (
	// DefaultModelDir is the acoustic model directory (pocketsphinx -hmm).
	DefaultModelDir = "/usr/share/pocketsphinx/model/en-us/en-us"
	// DefaultDictionary is the pronunciation dictionary (-dict).
	DefaultDictionary = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
	// DefaultLanguageModel is the n-gram language model (-lm).
	DefaultLanguageModel = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
	// DefaultLanguage is the language the default models recognise.
	DefaultLanguage = "en-US"
	// DefaultPoolSize is the number of warm decoders (about 100 MB each).
	DefaultPoolSize = 2
	// DefaultAcquireWait is how long Transcribe waits for a free decoder.
	DefaultAcquireWait = time.Second
	// DefaultPartialInterval is how much audio passes between two looks at
	// the partial hypothesis.
	DefaultPartialInterval = 100 * time.Millisecond
)

// Limits on the settings.
const (
	maxPoolSize        = 64
	maxAcquireWait     = time.Minute
	minPartialInterval = 20 * time.Millisecond
	maxPartialInterval = 5 * time.Second
	// mdefFile is the file every pocketsphinx acoustic model directory holds.
	mdefFile = "mdef"
)

// Setting names, as they appear in the JSON settings and in error details.
const (
	fieldModelDir        = "model_dir"
	fieldDictionary      = "dictionary"
	fieldLanguageModel   = "language_model"
	fieldKeywordList     = "keyword_list"
	fieldGrammar         = "grammar"
	fieldLanguage        = "language"
	fieldPoolSize        = "pool_size"
	fieldAcquireWait     = "acquire_wait"
	fieldPartialInterval = "partial_interval"
	fieldOptions         = "options"
	fieldSettings        = "settings"
)

// reservedOption reports whether a pocketsphinx flag has its own setting
// or is fixed by the plugin, and so may not appear in options.
func reservedOption(flag string) bool {
	switch flag {
	case "-hmm", "-dict", "-lm", "-kws", "-jsgf", "-logfn", "-samprate", "-remove_silence":
		return true
	default:
		return false
	}
}

// Settings configure the plugin. Every field is optional.
type Settings struct {
	// ModelDir is the acoustic model directory (pocketsphinx -hmm).
	ModelDir string
	// Dictionary is the pronunciation dictionary (-dict).
	Dictionary string
	// LanguageModel is the n-gram language model (-lm), used unless
	// KeywordList or Grammar is set.
	LanguageModel string
	// KeywordList is a keyword-spotting file (-kws): one phrase per line
	// with an optional /threshold/.
	KeywordList string
	// Grammar is a JSGF grammar file (-jsgf).
	Grammar string
	// Language is the BCP 47 tag the models recognise; streams asking for
	// another primary language are refused.
	Language string
	// PoolSize is the number of warm decoders, which bounds the number of
	// concurrent streams.
	PoolSize int
	// AcquireWait is how long Transcribe waits for a free decoder before it
	// answers ResourceExhausted.
	AcquireWait time.Duration
	// PartialInterval is how much audio passes between two looks at the
	// partial hypothesis.
	PartialInterval time.Duration
	// Options are extra pocketsphinx flags, e.g. {"-beam": "1e-60"}.
	Options map[string]string
}

// DefaultSettings returns the settings used for fields left out.
func DefaultSettings() Settings {
	return Settings{
		ModelDir:        DefaultModelDir,
		Dictionary:      DefaultDictionary,
		LanguageModel:   DefaultLanguageModel,
		Language:        DefaultLanguage,
		PoolSize:        DefaultPoolSize,
		AcquireWait:     DefaultAcquireWait,
		PartialInterval: DefaultPartialInterval,
	}
}

// settingsJSON is the wire form of Settings: durations are Go duration
// strings ("500ms").
type settingsJSON struct {
	ModelDir        *string           `json:"model_dir"`
	Dictionary      *string           `json:"dictionary"`
	LanguageModel   *string           `json:"language_model"`
	KeywordList     *string           `json:"keyword_list"`
	Grammar         *string           `json:"grammar"`
	Language        *string           `json:"language"`
	PoolSize        *int              `json:"pool_size"`
	AcquireWait     *string           `json:"acquire_wait"`
	PartialInterval *string           `json:"partial_interval"`
	Options         map[string]string `json:"options"`
}

// ParseSettings decodes and validates the plugin's JSON settings. Empty
// input or null means all defaults. Errors are *sdk.Error with
// CodeInvalidArgument naming the field.
func ParseSettings(raw []byte) (Settings, error) {
	s := DefaultSettings()
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return s, s.validate()
	}
	var in settingsJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Settings{}, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		e := sdk.InvalidField(fieldSettings, "trailing data after the JSON object")
		e.Err = err
		return Settings{}, e
	}
	setString(&s.ModelDir, in.ModelDir)
	setString(&s.Dictionary, in.Dictionary)
	setString(&s.LanguageModel, in.LanguageModel)
	setString(&s.KeywordList, in.KeywordList)
	setString(&s.Grammar, in.Grammar)
	setString(&s.Language, in.Language)
	if in.PoolSize != nil {
		s.PoolSize = *in.PoolSize
	}
	var err error
	if s.AcquireWait, err = parseDuration(fieldAcquireWait, in.AcquireWait, s.AcquireWait); err != nil {
		return Settings{}, err
	}
	if s.PartialInterval, err = parseDuration(fieldPartialInterval, in.PartialInterval, s.PartialInterval); err != nil {
		return Settings{}, err
	}
	s.Options = in.Options
	return s, s.validate()
}

// decodeError turns a JSON decoding error into InvalidArgument, naming the
// offending field when the decoder tells which.
func decodeError(err error) error {
	field := fieldSettings
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		field = typeErr.Field
	}
	const unknownPrefix = "json: unknown field "
	if msg := err.Error(); strings.HasPrefix(msg, unknownPrefix) {
		if name := strings.Trim(strings.TrimPrefix(msg, unknownPrefix), `"`); name != "" {
			field = name
		}
	}
	e := sdk.InvalidField(field, "invalid settings: %s", err.Error())
	e.Err = err
	return e
}

func setString(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func parseDuration(field string, v *string, def time.Duration) (time.Duration, error) {
	if v == nil {
		return def, nil
	}
	d, err := time.ParseDuration(*v)
	if err != nil {
		e := sdk.InvalidField(field, "not a duration (like \"500ms\"): %q", *v)
		e.Err = err
		return 0, e
	}
	return d, nil
}

// validate checks ranges and that every named file exists.
func (s Settings) validate() error {
	if err := checkDir(fieldModelDir, s.ModelDir); err != nil {
		return err
	}
	if err := checkFile(fieldModelDir, filepath.Join(s.ModelDir, mdefFile)); err != nil {
		return err
	}
	if err := checkFile(fieldDictionary, s.Dictionary); err != nil {
		return err
	}
	switch {
	case s.KeywordList != "" && s.Grammar != "":
		return sdk.InvalidField(fieldGrammar, "set at most one of %s and %s", fieldKeywordList, fieldGrammar)
	case s.KeywordList != "":
		if err := checkFile(fieldKeywordList, s.KeywordList); err != nil {
			return err
		}
	case s.Grammar != "":
		if err := checkFile(fieldGrammar, s.Grammar); err != nil {
			return err
		}
	default:
		if err := checkFile(fieldLanguageModel, s.LanguageModel); err != nil {
			return err
		}
	}
	if strings.TrimSpace(s.Language) == "" {
		return sdk.InvalidField(fieldLanguage, "must not be empty")
	}
	if s.PoolSize < 1 || s.PoolSize > maxPoolSize {
		return sdk.InvalidField(fieldPoolSize, "must be between 1 and %d, got %d", maxPoolSize, s.PoolSize)
	}
	if s.AcquireWait < 0 || s.AcquireWait > maxAcquireWait {
		return sdk.InvalidField(fieldAcquireWait, "must be between 0s and %s, got %s", maxAcquireWait, s.AcquireWait)
	}
	if s.PartialInterval < minPartialInterval || s.PartialInterval > maxPartialInterval {
		return sdk.InvalidField(fieldPartialInterval, "must be between %s and %s, got %s",
			minPartialInterval, maxPartialInterval, s.PartialInterval)
	}
	for k := range s.Options {
		if !strings.HasPrefix(k, "-") || len(k) < 2 {
			return sdk.InvalidField(fieldOptions, "%q is not a pocketsphinx flag (flags start with -)", k)
		}
		if reservedOption(k) {
			return sdk.InvalidField(fieldOptions, "%q is set by its own setting or by the plugin", k)
		}
	}
	return nil
}

// decoderArgs returns the pocketsphinx command line for these settings.
// Silence removal stays off: it drops frames before the search, and the
// word timings would no longer match the stream's audio.
func (s Settings) decoderArgs() []string {
	args := []string{"-hmm", s.ModelDir, "-dict", s.Dictionary, "-samprate", fmt.Sprint(SampleRate), "-remove_silence", "no"}
	switch {
	case s.KeywordList != "":
		args = append(args, "-kws", s.KeywordList)
	case s.Grammar != "":
		args = append(args, "-jsgf", s.Grammar)
	default:
		args = append(args, "-lm", s.LanguageModel)
	}
	keys := make([]string, 0, len(s.Options))
	for k := range s.Options {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, k, s.Options[k])
	}
	return args
}

// sameDecoder reports whether decoders built for s and o are identical.
func (s Settings) sameDecoder(o Settings) bool {
	return slices.Equal(s.decoderArgs(), o.decoderArgs())
}

func checkDir(field, path string) error {
	if path == "" {
		return sdk.InvalidField(field, "must not be empty")
	}
	fi, err := os.Stat(path)
	if err != nil {
		e := sdk.InvalidField(field, "%s: %s", path, statReason(err))
		e.Err = err
		return e
	}
	if !fi.IsDir() {
		return sdk.InvalidField(field, "%s is not a directory", path)
	}
	return nil
}

func checkFile(field, path string) error {
	if path == "" {
		return sdk.InvalidField(field, "must not be empty")
	}
	fi, err := os.Stat(path)
	if err != nil {
		e := sdk.InvalidField(field, "%s: %s", path, statReason(err))
		e.Err = err
		return e
	}
	if !fi.Mode().IsRegular() {
		return sdk.InvalidField(field, "%s is not a regular file", path)
	}
	return nil
}

func statReason(err error) string {
	if errors.Is(err, os.ErrNotExist) {
		return "does not exist"
	}
	return "cannot be read"
}
