package main

import "sort"

// voiceDesc describes one flite voice the plugin offers.
type voiceDesc struct {
	// id is the voice's number in the C bridge (flite_bridge.h).
	id int
	// rate is the voice's native sample rate in Hz.
	rate int
}

// Native sample rates of the bundled voices, in Hz.
const (
	rate16k = 16000
	rate8k  = 8000
)

// defaultVoice is the voice used when neither settings nor stream name one.
const defaultVoice = "slt"

// lookupVoice returns the voice called name. The table is built on each call
// so that no mutable package-level state exists; it is tiny.
func lookupVoice(name string) (voiceDesc, bool) {
	v, ok := voiceTable()[name]
	return v, ok
}

// voiceNames lists the offered voices in a stable order.
func voiceNames() []string {
	t := voiceTable()
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func voiceTable() map[string]voiceDesc {
	return map[string]voiceDesc{
		"slt":   {id: 0, rate: rate16k},
		"kal16": {id: 1, rate: rate16k},
		"awb":   {id: 2, rate: rate16k},
		"rms":   {id: 3, rate: rate16k},
		"kal":   {id: 4, rate: rate8k},
	}
}
