package turndetect_test

import (
	"bufio"
	"strings"
	"testing"

	"github.com/parleyhq/parley/server/internal/turndetect"
)

// corpus is the labelled set of turn endings the rules are held to: "C"
// complete, "I" incomplete, "U" unknown, then the transcript as an STT
// gives it (lowercase, digits or words, punctuation or none).
const corpus = `
U
U    
U ...
C what time is it
C what's the weather in paris today
C tell me a joke
C thank you
C thanks
C goodbye
C yes
C no
C okay
C sure
C hello
C hi there
C what is two plus two
C what is twelve plus seven
C what is twelve times three
C set a timer for five minutes
C remind me in ten minutes
C turn the lights off
C can you help me
C do it
C i think so
C i hope so
C what's it like
C come in
C i'm logged in
C who are you talking to
C what is this for
C where are you from
C what are you talking about
C what are you looking at
C that's all
C that's it
C never mind
C stop
C cancel that
C please repeat that
C i don't know
C yes it is
C no i don't
C i can
C sure you can
C is it
C my number is five five five one two three four
C call 0 2 0 7 9 4 6 0 0 0 0
C my pin is four three two one
C my email is john dot smith at gmail dot com
C send it to anna at example dot org
C i need eggs milk and bread
C the first one is apples and the second one is pears
C add milk to the list
C how far is the moon
C what's the capital of france
C play some music
C tell me about the weather
C how are you
C i'm fine
C i'm doing well thanks
C that sounds good
C let me think about it
C remember that the meeting is at noon
C what are my notes
C what day is it
C book a table for two
C book a table for two at seven
C i'd like a coffee
C i want a coffee
C i need help
C we should go
C can you hear me
C are you there
C what did you say
C say that again
C is it going to rain tomorrow
C how much is it
C it costs twenty dollars
C my address is ten downing street
C it's twelve fifteen
C the answer is forty two
C i was born in nineteen eighty
C good morning
C yeah that's right
C i see
C mm-hmm
C uh-huh
C right
C wake me up at seven
C what's the time in tokyo
C convert ten miles to kilometers
C spell necessary
C how do you spell necessary
C what does that mean
C who won the game last night
C the meeting is over
C log me in
C wait a second
C just a second
I set a timer for
I set a timer for um
I what is twelve plus
I what is twelve minus
I what is twelve times
I what is twelve divided by
I three point
I i want to
I i'd like to
I i need to
I can you
I could you
I would you
I will you
I what is
I what's
I what's the weather in
I remind me to
I remind me in
I tell me about
I i was wondering
I i was wondering if
I i think
I i mean
I you know
I and then
I so then
I and
I or
I but
I because
I so
I um
I uh
I er
I hmm
I i'd like a coffee and
I eggs milk and
I i need eggs milk or
I the first one is apples and the second
I the
I a
I my
I an
I book a table for
I book a table for two at
I my number is five five five
I call 0 2 0
I my phone number is oh seven
I dial one two three
I my email is john dot
I my email is john dot smith at
I send it to anna at example dot
I john underscore
I it's spelled j o h n dash
I i
I we
I they
I she
I he
I if
I unless
I although
I while
I until
I what is the capital of
I how many kilometers in
I convert ten miles to
I play some music by
I my name is
I the answer is
I it is
I are
I is
I should i
I i'm
I let's
I i'll
I what's the time in
I turn the lights in the
I like
I i like
I it's kind of
I it's sort of
I take me to the
I a table for two with
I i'm looking for a
I between
I from
I with
I without
I towards the
I during the
I in the morning and
I what's the weather like in
`

func TestClassifyCorpus(t *testing.T) {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(corpus))
	counts := map[turndetect.Verdict]int{}
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		label, text, _ := strings.Cut(line, " ")
		want := map[string]turndetect.Verdict{"C": turndetect.Complete, "I": turndetect.Incomplete, "U": turndetect.Unknown}[label]
		got, reason := turndetect.Classify(text)
		n++
		counts[want]++
		if got != want {
			t.Errorf("%q: got %s (%s), want %s", text, got, reason, want)
		}
	}
	if n < 150 {
		t.Fatalf("the corpus has %d endings; keep at least 150", n)
	}
	t.Logf("%d endings: %d complete, %d incomplete, %d unknown", n, counts[turndetect.Complete], counts[turndetect.Incomplete], counts[turndetect.Unknown])
}

func TestClassifyNamesTheRule(t *testing.T) {
	for text, reason := range map[string]string{
		"set a timer for":              turndetect.ReasonPreposition,
		"what is twelve plus":          turndetect.ReasonOperator,
		"so um":                        turndetect.ReasonFiller,
		"and then":                     turndetect.ReasonContinue,
		"my number is five five":       turndetect.ReasonNumber,
		"my email is anna at":          turndetect.ReasonEmail,
		"what time is it":              turndetect.ReasonEnding,
		"":                             turndetect.ReasonNoWords,
		"take the":                     turndetect.ReasonArticle,
		"i want to go and":             turndetect.ReasonConjunction,
		"the first one and the second": turndetect.ReasonOrdinal,
	} {
		if _, got := turndetect.Classify(text); got != reason {
			t.Errorf("%q: reason %s, want %s", text, got, reason)
		}
	}
}

func TestFunctionWords(t *testing.T) {
	for _, w := range []string{"um", "uh", "the", "a", "or", "and", "of", "to", "hmm", "h"} {
		if !turndetect.IsFunctionWord(w) {
			t.Errorf("%q is a function word", w)
		}
	}
	for _, w := range []string{"stop", "wait", "no", "time", "what", "head", "seven", "i"} {
		if turndetect.IsFunctionWord(w) {
			t.Errorf("%q carries meaning", w)
		}
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"what is twelve plus", "", "a@b.c", "'''", "- -", "5 5 5", "double"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, reason := turndetect.Classify(s)
		if reason == "" || (v != turndetect.Unknown && v != turndetect.Complete && v != turndetect.Incomplete) {
			t.Fatalf("%q: %v %q", s, v, reason)
		}
	})
}
