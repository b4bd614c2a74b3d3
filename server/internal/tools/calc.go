package tools

import (
	"fmt"
	"math"
	"strconv"
)

// Calculator limits.
const (
	// maxExpressionBytes bounds the calculator's input.
	maxExpressionBytes = 256
	// maxExpressionDepth bounds nesting (parentheses, unary signs, powers).
	maxExpressionDepth = 32
)

// Eval evaluates an arithmetic expression: numbers (decimal, exponent),
// + - * / % ^ (also **), unary signs and parentheses, with the usual
// precedence; ^ is right-associative. It is a recursive-descent parser —
// nothing is executed — with limits on length and nesting. Errors wrap
// ErrInvalidExpression.
func Eval(expr string) (float64, error) {
	if len(expr) > maxExpressionBytes {
		return 0, fmt.Errorf("%w: longer than %d bytes", ErrInvalidExpression, maxExpressionBytes)
	}
	p := &calcParser{s: expr}
	v, err := p.expr(0)
	if err != nil {
		return 0, err
	}
	p.skip()
	if p.i != len(p.s) {
		return 0, p.fail("unexpected %q", p.s[p.i])
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: result is not a finite number", ErrInvalidExpression)
	}
	return v, nil
}

type calcParser struct {
	s string
	i int
}

func (p *calcParser) fail(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", ErrInvalidExpression, p.i, fmt.Sprintf(format, args...))
}

func (p *calcParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *calcParser) peek() byte {
	p.skip()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *calcParser) expr(depth int) (float64, error) {
	if depth > maxExpressionDepth {
		return 0, p.fail("nested deeper than %d", maxExpressionDepth)
	}
	v, err := p.term(depth)
	if err != nil {
		return 0, err
	}
	for {
		switch p.peek() {
		case '+':
			p.i++
			r, err := p.term(depth)
			if err != nil {
				return 0, err
			}
			v += r
		case '-':
			p.i++
			r, err := p.term(depth)
			if err != nil {
				return 0, err
			}
			v -= r
		default:
			return v, nil
		}
	}
}

func (p *calcParser) term(depth int) (float64, error) {
	v, err := p.unary(depth)
	if err != nil {
		return 0, err
	}
	for {
		op := p.peek()
		if op != '*' && op != '/' && op != '%' {
			return v, nil
		}
		if op == '*' && p.i+1 < len(p.s) && p.s[p.i+1] == '*' {
			return v, nil // power, handled below unary
		}
		p.i++
		r, err := p.unary(depth)
		if err != nil {
			return 0, err
		}
		switch op {
		case '*':
			v *= r
		case '/':
			if r == 0 {
				return 0, p.fail("division by zero")
			}
			v /= r
		default:
			if r == 0 {
				return 0, p.fail("modulo by zero")
			}
			v = math.Mod(v, r)
		}
	}
}

func (p *calcParser) unary(depth int) (float64, error) {
	if depth > maxExpressionDepth {
		return 0, p.fail("nested deeper than %d", maxExpressionDepth)
	}
	switch p.peek() {
	case '-':
		p.i++
		v, err := p.unary(depth + 1)
		return -v, err
	case '+':
		p.i++
		return p.unary(depth + 1)
	}
	return p.power(depth)
}

func (p *calcParser) power(depth int) (float64, error) {
	base, err := p.primary(depth)
	if err != nil {
		return 0, err
	}
	switch {
	case p.peek() == '^':
		p.i++
	case p.peek() == '*' && p.i+1 < len(p.s) && p.s[p.i+1] == '*':
		p.i += 2
	default:
		return base, nil
	}
	exp, err := p.unary(depth + 1)
	if err != nil {
		return 0, err
	}
	return math.Pow(base, exp), nil
}

func (p *calcParser) primary(depth int) (float64, error) {
	c := p.peek()
	if c == '(' {
		p.i++
		v, err := p.expr(depth + 1)
		if err != nil {
			return 0, err
		}
		if p.peek() != ')' {
			return 0, p.fail("missing )")
		}
		p.i++
		return v, nil
	}
	start := p.i
	for p.i < len(p.s) && (isDigit(p.s[p.i]) || p.s[p.i] == '.') {
		p.i++
	}
	if p.i < len(p.s) && p.i > start && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		j := p.i + 1
		if j < len(p.s) && (p.s[j] == '+' || p.s[j] == '-') {
			j++
		}
		if j < len(p.s) && isDigit(p.s[j]) {
			for j < len(p.s) && isDigit(p.s[j]) {
				j++
			}
			p.i = j
		}
	}
	if p.i == start {
		if c == 0 {
			return 0, p.fail("unexpected end of expression")
		}
		return 0, p.fail("unexpected %q", c)
	}
	num := p.s[start:p.i]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		p.i = start
		return 0, p.fail("bad number %q", num)
	}
	return v, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
