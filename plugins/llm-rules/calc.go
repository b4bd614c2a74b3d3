package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limits of the arithmetic evaluator: it reads text that comes from users.
const (
	// maxExprBytes bounds the length of an expression.
	maxExprBytes = 256
	// maxExprDepth bounds nesting (parentheses, unary signs, powers).
	maxExprDepth = 32
	// maxNumberDigits bounds the digits of one literal.
	maxNumberDigits = 30
)

// Evaluator errors. They are returned wrapped with the position or detail.
var (
	// ErrSyntax means the expression is not well formed.
	ErrSyntax = errors.New("syntax error")
	// ErrTooLong means the expression exceeds maxExprBytes.
	ErrTooLong = errors.New("expression too long")
	// ErrTooDeep means the expression nests deeper than maxExprDepth.
	ErrTooDeep = errors.New("expression nested too deeply")
	// ErrDivisionByZero means a division or modulo by zero.
	ErrDivisionByZero = errors.New("division by zero")
	// ErrOverflow means a result is not a finite number.
	ErrOverflow = errors.New("result out of range")
)

// exprNode is a parsed arithmetic expression: a number (op == 0) or a
// binary or unary (op '~') operation.
type exprNode struct {
	op     byte // 0 number, '+', '-', '*', '/', '%', '^', '~' (negate)
	value  float64
	lit    string // the literal as written, for numbers
	left   *exprNode
	right  *exprNode
	parens bool // written inside parentheses
}

// Eval parses and evaluates an arithmetic expression: decimal numbers,
// + - * / % (modulo) ^ (power, right-associative), unary minus and plus,
// and parentheses. It never runs code; it rejects long or deeply nested
// input, division by zero and non-finite results.
func Eval(expr string) (float64, error) {
	n, err := parseExpr(expr)
	if err != nil {
		return 0, err
	}
	return n.eval()
}

// parseExpr parses expr into a tree.
func parseExpr(expr string) (*exprNode, error) {
	if len(expr) > maxExprBytes {
		return nil, fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLong, len(expr), maxExprBytes)
	}
	p := &exprParser{src: expr}
	n, err := p.parseSum()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return nil, fmt.Errorf("%w: unexpected %q at %d", ErrSyntax, p.src[p.pos], p.pos)
	}
	return n, nil
}

// exprParser is a recursive-descent parser:
//
//	sum     = product { ("+" | "-") product }
//	product = unary { ("*" | "/" | "%") unary }
//	unary   = ("-" | "+") unary | power
//	power   = primary [ "^" unary ]
//	primary = number | "(" sum ")"
type exprParser struct {
	src   string
	pos   int
	depth int
}

func (p *exprParser) enter() error {
	p.depth++
	if p.depth > maxExprDepth {
		return fmt.Errorf("%w (limit %d)", ErrTooDeep, maxExprDepth)
	}
	return nil
}

func (p *exprParser) leave() { p.depth-- }

func (p *exprParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (p *exprParser) peek() byte {
	p.skipSpace()
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *exprParser) parseSum() (*exprNode, error) {
	left, err := p.parseProduct()
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		if op != '+' && op != '-' {
			return left, nil
		}
		p.pos++
		right, err := p.parseProduct()
		if err != nil {
			return nil, err
		}
		left = &exprNode{op: op, left: left, right: right}
	}
}

func (p *exprParser) parseProduct() (*exprNode, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		if op != '*' && op != '/' && op != '%' {
			return left, nil
		}
		p.pos++
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		left = &exprNode{op: op, left: left, right: right}
	}
}

func (p *exprParser) parseUnary() (*exprNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	switch p.peek() {
	case '-':
		p.pos++
		n, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &exprNode{op: '~', left: n}, nil
	case '+':
		p.pos++
		return p.parseUnary()
	}
	return p.parsePower()
}

func (p *exprParser) parsePower() (*exprNode, error) {
	base, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	if p.peek() != '^' {
		return base, nil
	}
	p.pos++
	exp, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	return &exprNode{op: '^', left: base, right: exp}, nil
}

func (p *exprParser) parsePrimary() (*exprNode, error) {
	c := p.peek()
	switch {
	case c == '(':
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		p.pos++
		n, err := p.parseSum()
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, fmt.Errorf("%w: missing ) at %d", ErrSyntax, p.pos)
		}
		p.pos++
		n.parens = true
		return n, nil
	case c >= '0' && c <= '9' || c == '.':
		return p.parseNumber()
	case c == 0:
		return nil, fmt.Errorf("%w: unexpected end", ErrSyntax)
	default:
		return nil, fmt.Errorf("%w: unexpected %q at %d", ErrSyntax, c, p.pos)
	}
}

func (p *exprParser) parseNumber() (*exprNode, error) {
	start := p.pos
	digits, dots := 0, 0
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '.' {
			dots++
		} else if c >= '0' && c <= '9' {
			digits++
		} else {
			break
		}
		p.pos++
	}
	lit := p.src[start:p.pos]
	if digits == 0 || dots > 1 {
		return nil, fmt.Errorf("%w: bad number %q at %d", ErrSyntax, lit, start)
	}
	if digits > maxNumberDigits {
		return nil, fmt.Errorf("%w: number %q has more than %d digits", ErrOverflow, lit, maxNumberDigits)
	}
	v, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: bad number %q: %w", ErrSyntax, lit, err)
	}
	return &exprNode{value: v, lit: lit}, nil
}

// eval computes the node's value.
func (n *exprNode) eval() (float64, error) {
	if n.op == 0 {
		return n.value, nil
	}
	a, err := n.left.eval()
	if err != nil {
		return 0, err
	}
	if n.op == '~' {
		return -a, nil
	}
	b, err := n.right.eval()
	if err != nil {
		return 0, err
	}
	var v float64
	switch n.op {
	case '+':
		v = a + b
	case '-':
		v = a - b
	case '*':
		v = a * b
	case '/':
		if b == 0 {
			return 0, ErrDivisionByZero
		}
		v = a / b
	case '%':
		if b == 0 {
			return 0, ErrDivisionByZero
		}
		v = math.Mod(a, b)
	case '^':
		v = math.Pow(a, b)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: %s", ErrOverflow, n.compact())
	}
	return v, nil
}

// hasOperator reports whether the tree does any arithmetic (a lone number
// is not a question worth a calculator).
func (n *exprNode) hasOperator() bool { return n.op != 0 }

// compact renders the expression without spaces, keeping the parentheses
// the user wrote: the form sent as the calculator tool's argument.
func (n *exprNode) compact() string {
	var b strings.Builder
	n.render(&b, func(op byte) string {
		if op == '~' {
			return "-"
		}
		return string(op)
	}, func(n *exprNode) string { return n.lit }, "", "(", ")")
	return b.String()
}

// spoken renders the expression in words for a reply: "7*6" is "seven
// times six".
func (n *exprNode) spoken() string {
	var b strings.Builder
	n.render(&b, spokenOperator, func(n *exprNode) string { return numberWords(n.value, n.lit) }, " ", "", "")
	return b.String()
}

func (n *exprNode) render(b *strings.Builder, opText func(byte) string, num func(*exprNode) string, sep, open, closing string) {
	if n.parens {
		b.WriteString(open)
		defer b.WriteString(closing)
	}
	switch n.op {
	case 0:
		b.WriteString(num(n))
	case '~':
		b.WriteString(opText('~'))
		b.WriteString(sep)
		n.left.render(b, opText, num, sep, open, closing)
	default:
		n.left.render(b, opText, num, sep, open, closing)
		b.WriteString(sep)
		b.WriteString(opText(n.op))
		b.WriteString(sep)
		n.right.render(b, opText, num, sep, open, closing)
	}
}

func spokenOperator(op byte) string {
	switch op {
	case '+':
		return "plus"
	case '-':
		return "minus"
	case '*':
		return "times"
	case '/':
		return "divided by"
	case '%':
		return "modulo"
	case '^':
		return "to the power of"
	default: // '~'
		return "minus"
	}
}

// formatNumber prints a result the way a person would say it: integers
// without decimals, others with at most resultDecimals decimals.
func formatNumber(v float64) string {
	const resultDecimals = 6
	const exactInt = 1 << 53
	if v == math.Trunc(v) && math.Abs(v) < exactInt {
		return strconv.FormatInt(int64(v), 10)
	}
	s := strconv.FormatFloat(v, 'f', resultDecimals, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}
