package turndetect

import (
	"strings"
	"unicode"
)

// Verdict is what the words so far say about the end of the turn.
type Verdict int

// The verdicts.
const (
	// Unknown: no words to judge by (nothing recognised yet).
	Unknown Verdict = iota
	// Complete: the words read as a finished request or remark.
	Complete
	// Incomplete: the words obviously go on.
	Incomplete
)

func (v Verdict) String() string {
	switch v {
	case Complete:
		return "complete"
	case Incomplete:
		return "incomplete"
	}
	return "unknown"
}

// Reasons name the rule that decided (metric labels, logs, tests).
const (
	ReasonNoWords     = "no_words"
	ReasonEnding      = "complete_ending"
	ReasonConjunction = "trailing_conjunction"
	ReasonPreposition = "trailing_preposition"
	ReasonArticle     = "trailing_article"
	ReasonAuxiliary   = "trailing_auxiliary"
	ReasonFiller      = "trailing_filler"
	ReasonOperator    = "trailing_operator"
	ReasonPronoun     = "trailing_subject"
	ReasonVerb        = "trailing_verb"
	ReasonNumber      = "number_dictation"
	ReasonEmail       = "email_dictation"
	ReasonContinue    = "and_then"
	ReasonOrdinal     = "trailing_ordinal"
)

// minPhoneDigits is how many digits a dictated phone number has at least
// before it can be complete (seven: a local number); cueWindow is how many
// words before the digits may name it ("my phone number is …").
const (
	minPhoneDigits = 7
	cueWindow      = 3
)

// Classify judges text, the transcript of the turn so far, by its last
// words, and names the rule that decided.
func Classify(text string) (Verdict, string) {
	w := words(text)
	n := len(w)
	if n == 0 {
		return Unknown, ReasonNoWords
	}
	last := w[n-1]
	prev := ""
	if n > 1 {
		prev = w[n-2]
	}
	// Two-word endings first: they override what the last word alone says.
	switch {
	case (prev == "and" || prev == "so") && last == "then":
		return Incomplete, ReasonContinue
	case prev == "you" && last == "know", prev == "i" && last == "mean", prev == "kind" && last == "of", prev == "sort" && last == "of":
		return Incomplete, ReasonFiller
	case last == "you" && isAuxiliary(prev) && !isWh(w[0]) && w[0] != "how":
		return Incomplete, ReasonAuxiliary // "can you", "would you"
	case isOrdinal(last) && prev == "the":
		return Incomplete, ReasonOrdinal // "the second"
	}
	if v, reason, ok := dictation(w); ok {
		return v, reason
	}
	if completeExceptions(w, prev, last) {
		return Complete, ReasonEnding
	}
	switch {
	case isFiller(last):
		return Incomplete, ReasonFiller
	case isConjunction(last):
		return Incomplete, ReasonConjunction
	case isOperator(last):
		return Incomplete, ReasonOperator
	case isPreposition(last):
		return Incomplete, ReasonPreposition
	case isArticle(last):
		return Incomplete, ReasonArticle
	case isAuxiliary(last) && !auxiliaryEnds(w, prev, last):
		return Incomplete, ReasonAuxiliary
	case isSubject(last):
		return Incomplete, ReasonPronoun
	case isOpenVerb(last) && (isSubject(prev) || isAuxiliary(prev) || prev == "just" || prev == "really"):
		return Incomplete, ReasonVerb
	}
	return Complete, ReasonEnding
}

// words lowercases text and splits it into words; apostrophes stay inside
// words ("what's"), "@" and "." inside a word are spoken forms (an address
// typed by the STT) and split it.
func words(text string) []string {
	f := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '-'
	})
	out := f[:0]
	for _, w := range f {
		if w = strings.Trim(w, "'-"); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// dictation judges a number or an e-mail address being spelled out.
func dictation(w []string) (Verdict, string, bool) {
	n := len(w)
	last := w[n-1]
	switch last {
	case "dot", "underscore", "dash", "hyphen", "at":
		if emailCue(w) || last != "at" {
			return Incomplete, ReasonEmail, true
		}
	}
	digits := 0
	for i := n - 1; i >= 0 && isDigitWord(w[i]); i-- {
		digits += digitCount(w[i])
	}
	if digits == 0 {
		return 0, "", false
	}
	start := n - 1
	for start >= 0 && isDigitWord(w[start]) {
		start--
	}
	for i := max(0, start-cueWindow); i <= start; i++ {
		if phoneCue(w[i]) && digits < minPhoneDigits {
			return Incomplete, ReasonNumber, true
		}
	}
	return 0, "", false
}

func emailCue(w []string) bool {
	for _, x := range w {
		if x == "email" || x == "e-mail" || x == "address" || x == "dot" {
			return true
		}
	}
	return false
}

func phoneCue(w string) bool {
	switch w {
	case "phone", "number", "cell", "mobile", "dial", "call", "fax":
		return true
	}
	return false
}

// isDigitWord: a numeral or a spoken digit ("oh" as in phone numbers).
func isDigitWord(w string) bool {
	if w == "" {
		return false
	}
	if strings.IndexFunc(w, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
		return true
	}
	switch w {
	case "zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "double", "triple":
		return true
	}
	return false
}

// digitCount is how many digits a digit word stands for.
func digitCount(w string) int {
	switch w {
	case "double", "triple":
		return 0 // the next word counts, repeated
	}
	if w[0] >= '0' && w[0] <= '9' {
		return len(w)
	}
	return 1
}

func isFiller(w string) bool {
	switch w {
	case "um", "umm", "uh", "uhh", "er", "erm", "hmm", "mm", "ah", "eh", "like":
		return true
	}
	return false
}

func isConjunction(w string) bool {
	switch w {
	case "and", "or", "but", "nor", "so", "because", "cause", "if", "than", "which", "whose",
		"while", "although", "though", "unless", "until", "till", "whether":
		return true
	}
	return false
}

func isOperator(w string) bool {
	switch w {
	case "plus", "minus", "times", "divided", "multiplied", "point", "equals":
		return true
	}
	return false
}

func isPreposition(w string) bool {
	switch w {
	case "to", "for", "of", "in", "at", "by", "with", "from", "about", "into", "onto", "between",
		"after", "before", "through", "without", "toward", "towards", "against", "during", "per", "via",
		"under", "as":
		return true
	}
	return false
}

func isArticle(w string) bool {
	switch w {
	case "a", "an", "the", "my", "your", "his", "her", "our", "their", "its",
		"some", "any", "every", "each", "another":
		return true
	}
	return false
}

func isAuxiliary(w string) bool {
	switch w {
	case "is", "are", "was", "were", "am", "be", "been", "being", "will", "would", "can", "could",
		"should", "shall", "may", "might", "must", "do", "does", "did", "have", "has", "had",
		"what's", "where's", "who's", "how's", "it's", "there's", "i'm", "you're", "we're", "they're",
		"i'll", "you'll", "we'll", "i'd", "i've", "let's":
		return true
	}
	return false
}

// auxiliaryEnds reports the auxiliary endings that are complete: a short
// answer ("yes it is", "I can", "no I don't") or a tag ("is it").
func auxiliaryEnds(w []string, prev, last string) bool {
	answered := false
	for _, x := range w {
		switch x {
		case "yes", "yeah", "no", "sure", "course", "maybe", "probably":
			answered = true
		}
	}
	short := len(w) == 2 && (isSubject(prev) || prev == "you")
	if (short || answered) && (isSubject(prev) || prev == "it" || prev == "you" || prev == "there" || prev == "that") {
		switch last {
		case "is", "are", "was", "were", "am", "will", "would", "can", "could", "should", "shall",
			"may", "might", "must", "do", "does", "did", "have", "has", "had":
			return true
		}
	}
	switch prev {
	case "yes", "no", "not", "sure", "probably", "maybe", "never", "always", "really":
		return true
	}
	return false
}

// isSubject: a subject pronoun with nothing after it. "you" and "it" are
// not here: they end "thank you" and "do it".
func isSubject(w string) bool {
	switch w {
	case "i", "we", "they", "he", "she":
		return true
	}
	return false
}

// isOpenVerb: verbs that need what follows ("I want", "I think").
func isOpenVerb(w string) bool {
	switch w {
	case "want", "need", "think", "mean", "guess", "wonder", "wondering", "wanna", "gonna", "hope",
		"wish", "believe", "was", "said", "tried", "meant":
		return true
	}
	return false
}

func isOrdinal(w string) bool {
	switch w {
	case "first", "second", "third", "fourth", "fifth", "next", "last", "other":
		return true
	}
	return false
}

// completeExceptions are endings that look open by their last word but
// finish the sentence: "I think so", "what's it like", phrasal verbs
// ("log in"), and questions whose preposition is stranded after a verb or
// a pronoun ("who are you talking to", "what is this for").
func completeExceptions(w []string, prev, last string) bool {
	switch {
	case last == "so" && (prev == "think" || prev == "hope" || prev == "guess" || prev == "believe" || prev == "suppose" || prev == "said" || prev == "do"):
		return true
	case last == "like" && (prev == "it" || prev == "that" || prev == "looks"):
		return true
	case last == "in" && (prev == "come" || prev == "log" || prev == "sign" || prev == "plug" || prev == "check" || prev == "i'm" || prev == "logged"):
		return true
	case last == "in" && prev == "me" && len(w) >= 3:
		switch w[len(w)-3] {
		case "log", "sign", "count", "let", "check":
			return true
		}
		return false
	case isPreposition(last) && len(w) >= 4 && isWh(w[0]):
		return strings.HasSuffix(prev, "ing") || strandsAfter(prev)
	}
	return false
}

func isWh(w string) bool {
	switch w {
	case "what", "who", "whom", "where", "which", "what's", "who's", "where's":
		return true
	}
	return false
}

// strandsAfter: words after which a question's final preposition is
// stranded, not waiting for its object.
func strandsAfter(w string) bool {
	switch w {
	case "you", "it", "this", "that", "they", "them", "him", "her", "we", "us", "me", "i", "from", "come", "go", "look", "looking", "made", "used", "belong", "talk", "wait", "waiting":
		return true
	}
	return false
}

// IsFunctionWord reports whether w (lowercase) carries no request of its
// own: a filler ("um"), article, conjunction, preposition, or a lone
// letter other than "i". Said alone over the agent it is not an
// interruption (recognizers turn coughs, sighs and hums into such words:
// pocketsphinx hears a sighed "ahh" as "h.").
func IsFunctionWord(w string) bool {
	if len(w) == 1 && w != "i" && w[0] >= 'a' && w[0] <= 'z' {
		return true
	}
	return isFiller(w) || isArticle(w) || isConjunction(w) || isPreposition(w) || w == "huh"
}
