package main

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Number word scales.
const (
	hundred  = 100
	thousand = 1000
	million  = 1000 * thousand
	billion  = 1000 * million
	ten      = 10
	twenty   = 20
)

func smallNumberWords() []string {
	return []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
		"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
}

func tensWords() []string {
	return []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
}

// numberWords says v in English words when it is a whole number below a
// billion ("forty-two"); otherwise it returns lit, the number as written.
func numberWords(v float64, lit string) string {
	if v != math.Trunc(v) || math.Abs(v) >= billion {
		return lit
	}
	n := int64(v)
	if n < 0 {
		return "minus " + intWords(-n)
	}
	return intWords(n)
}

func intWords(n int64) string {
	small := smallNumberWords()
	switch {
	case n < twenty:
		return small[n]
	case n < hundred:
		w := tensWords()[n/ten]
		if n%ten != 0 {
			w += "-" + small[n%ten]
		}
		return w
	case n < thousand:
		return joinScale(intWords(n/hundred)+" hundred", n%hundred, " and ")
	case n < million:
		return joinScale(intWords(n/thousand)+" thousand", n%thousand, sepFor(n%thousand))
	default:
		return joinScale(intWords(n/million)+" million", n%million, sepFor(n%million))
	}
}

func sepFor(rest int64) string {
	if rest < hundred {
		return " and "
	}
	return " "
}

func joinScale(head string, rest int64, sep string) string {
	if rest == 0 {
		return head
	}
	return head + sep + intWords(rest)
}

// wordValues maps number words to values; scales are handled apart.
func wordValues() map[string]int64 {
	m := map[string]int64{}
	for i, w := range smallNumberWords() {
		m[w] = int64(i)
	}
	for i, w := range tensWords() {
		if w != "" {
			m[w] = int64(i * ten)
		}
	}
	m["a"] = 1 // "a hundred"
	m["oh"] = 0
	return m
}

func scaleValues() map[string]int64 {
	return map[string]int64{"hundred": hundred, "thousand": thousand, "million": million, "billion": billion}
}

// operatorPhrases maps spoken operators to symbols, longest first.
func operatorPhrases() [][2]string {
	return [][2]string{
		{"raised to the power of", "^"}, {"to the power of", "^"}, {"to the power", "^"},
		{"multiplied by", "*"}, {"divided by", "/"}, {"modulo", "%"}, {"mod", "%"},
		{"times", "*"}, {"plus", "+"}, {"minus", "-"}, {"over", "/"}, {"x", "*"},
		{"squared", "^2"}, {"cubed", "^3"},
		{"open bracket", "("}, {"close bracket", ")"}, {"open paren", "("}, {"close paren", ")"},
		{"×", "*"}, {"÷", "/"}, {"−", "-"}, {"negative", "-"},
	}
}

// verbForms rewrite "add 3 and 4" style requests once numbers are digits.
type verbForm struct {
	re   *regexp.Regexp
	repl string
}

func verbForms() []verbForm {
	const num = `(-?[0-9.]+)`
	mk := func(pattern, repl string) verbForm {
		return verbForm{re: regexp.MustCompile(`^` + pattern + `$`), repl: repl}
	}
	return []verbForm{
		mk(`add `+num+` (?:to|and) `+num, "$1+$2"),
		mk(`subtract `+num+` from `+num, "$2-$1"),
		mk(`multiply `+num+` (?:by|and) `+num, "$1*$2"),
		mk(`divide `+num+` by `+num, "$1/$2"),
		mk(`(?:the )?sum of `+num+` and `+num, "$1+$2"),
		mk(`(?:the )?difference between `+num+` and `+num, "$1-$2"),
		mk(`(?:the )?product of `+num+` and `+num, "$1*$2"),
		mk(`(?:the )?square of `+num, "$1^2"),
		mk(num+` (?:percent|%) of `+num, "$1*$2/100"),
	}
}

// arithmetic holds the word tables and patterns that turn spoken
// arithmetic into expressions; build it once with newArithmetic.
type arithmetic struct {
	vals    map[string]int64
	scales  map[string]int64
	phrases [][2]string
	forms   []verbForm
}

func newArithmetic() *arithmetic {
	return &arithmetic{vals: wordValues(), scales: scaleValues(), phrases: operatorPhrases(), forms: verbForms()}
}

// toArithmetic turns a spoken arithmetic question into an expression for
// Eval: number words become digits ("twenty one" → 21, "three point five"
// → 3.5), spoken operators become symbols ("seven times six" → 7*6). ok
// is false when anything is left that is not arithmetic.
func (a *arithmetic) toArithmetic(text string) (string, bool) {
	s := strings.ToLower(strings.TrimSpace(text))
	s = strings.TrimRight(s, "?.!= ")
	for _, suffix := range []string{" equal", " equals", " make", " makes", " is", " come to", " give"} {
		s = strings.TrimSuffix(s, suffix)
	}
	s = strings.NewReplacer(",000", "000", "-", " - ", "(", " ( ", ")", " ) ", "+", " + ", "*", " * ", "/", " / ", "^", " ^ ", "%", " % ").Replace(s)
	// Hyphenated number words ("forty-two") were split around "-": rejoin.
	words := strings.Fields(s)
	words = a.joinHyphenatedNumbers(words)
	words = a.replacePhrases(words)
	words = a.wordsToDigits(words)
	joined := strings.Join(words, " ")
	for _, f := range a.forms {
		if f.re.MatchString(joined) {
			joined = f.re.ReplaceAllString(joined, f.repl)
			break
		}
	}
	expr := strings.ReplaceAll(joined, " ", "")
	if expr == "" || strings.IndexFunc(expr, func(r rune) bool { return !strings.ContainsRune("0123456789.+-*/%^()", r) }) >= 0 {
		return "", false
	}
	return expr, true
}

// joinHyphenatedNumbers undoes the "-" split inside "forty - two".
func (a *arithmetic) joinHyphenatedNumbers(words []string) []string {
	vals := a.vals
	out := make([]string, 0, len(words))
	for i := 0; i < len(words); i++ {
		if words[i] == "-" && len(out) > 0 && i+1 < len(words) {
			prev, okPrev := vals[out[len(out)-1]]
			next, okNext := vals[words[i+1]]
			if okPrev && okNext && prev >= twenty && prev%ten == 0 && next < ten {
				continue
			}
		}
		out = append(out, words[i])
	}
	return out
}

// replacePhrases maps spoken operators (possibly several words) to symbols.
func (a *arithmetic) replacePhrases(words []string) []string {
	phrases := a.phrases
	var out []string
next:
	for i := 0; i < len(words); i++ {
		for _, p := range phrases {
			pw := strings.Fields(p[0])
			if i+len(pw) <= len(words) && strings.Join(words[i:i+len(pw)], " ") == p[0] {
				out = append(out, p[1])
				i += len(pw) - 1
				continue next
			}
		}
		out = append(out, words[i])
	}
	return out
}

// wordsToDigits folds runs of number words into one literal.
func (a *arithmetic) wordsToDigits(words []string) []string {
	vals, scales := a.vals, a.scales
	var out []string
	for i := 0; i < len(words); {
		total, current, n := int64(0), int64(0), 0
		for j := i; j < len(words); j++ {
			w := words[j]
			if v, ok := vals[w]; ok && (w != "a" || (j+1 < len(words) && scales[words[j+1]] > 0)) {
				current += v
				n = j - i + 1
				continue
			}
			if s, ok := scales[w]; ok && n > 0 {
				if s == hundred {
					current *= s
				} else {
					total += current * s
					current = 0
				}
				n = j - i + 1
				continue
			}
			if w == "and" && n > 0 && j+1 < len(words) {
				if _, ok := vals[words[j+1]]; ok && scales[words[j-1]] > 0 {
					continue // "one hundred and five"
				}
			}
			break
		}
		if n == 0 {
			out = append(out, words[i])
			i++
			continue
		}
		lit := strconv.FormatInt(total+current, 10)
		i += n
		// "three point one four"
		if i+1 < len(words) && words[i] == "point" {
			var frac strings.Builder
			j := i + 1
			for ; j < len(words); j++ {
				v, ok := vals[words[j]]
				if !ok || v >= ten || words[j] == "a" {
					break
				}
				frac.WriteString(strconv.FormatInt(v, 10))
			}
			if frac.Len() > 0 {
				lit += "." + frac.String()
				i = j
			}
		}
		out = append(out, lit)
	}
	return out
}
