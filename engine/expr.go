package engine

import (
	"errors"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A native expression is a condition written in the common subset of JavaScript
// expressions, evaluated in Go with JavaScript's semantics instead of a round trip to a
// sandbox worker: literals (numbers, strings, true/false/null/undefined), bound
// references, `context`, property access (.x, [i], .length), .includes / .startsWith /
// .endsWith with one argument, unary ! - + typeof, * / % + -, comparisons, == != ===
// !==, && || and ?:. Anything else is not compiled (parseExpr fails), and anything whose
// result the subset cannot vouch for at run time — a TypeError, an object compared or
// turned into a primitive, a prototype property — stops evaluation with errNotNative, so
// the caller runs the sandbox instead: the sandbox stays the reference for every answer
// and every error message.

var errNotNative = errors.New("not a native expression")

// undefined is JavaScript's undefined (nil is null).
type jsUndefined struct{}

var undef any = jsUndefined{}

type exprKind uint8

const (
	exLit exprKind = iota
	exIdent
	exMember   // a.b, a[b]
	exCall     // a.m(arg)
	exUnary    // op a
	exBinary   // a op b
	exLogical  // a && b, a || b
	exTernary  // a ? b : c
	exTypeof   // typeof a
	exComputed // a[b]
)

type expr struct {
	kind    exprKind
	op      string
	val     any    // exLit
	name    string // exIdent, exMember (property), exCall (method)
	a, b, c *expr
	paren   bool // written in parentheses
}

// parseExpr compiles src, or fails when src is outside the native subset.
func parseExpr(src string) (*expr, error) {
	if !utf8.ValidString(src) {
		return nil, errNotNative // goja refuses invalid UTF-8 as a SyntaxError
	}
	p := &exprParser{src: src}
	p.next()
	e := p.ternary()
	if p.err == nil && p.tok.kind != tkEOF {
		p.fail()
	}
	if p.err != nil {
		return nil, p.err
	}
	return e, nil
}

type tokKind uint8

const (
	tkEOF tokKind = iota
	tkNum
	tkStr
	tkIdent
	tkPunct
)

type token struct {
	kind tokKind
	s    string
	num  float64
}

type exprParser struct {
	src string
	pos int
	tok token
	err error
}

func (p *exprParser) fail() {
	if p.err == nil {
		p.err = errNotNative
	}
	p.tok = token{kind: tkEOF}
}

var puncts = []string{"===", "!==", "==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!", "(", ")", "[", "]", ".", "?", ":"}

func (p *exprParser) next() {
	if p.err != nil {
		return
	}
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
	if p.pos >= len(p.src) {
		p.tok = token{kind: tkEOF}
		return
	}
	s := p.src[p.pos:]
	c := s[0]
	switch {
	case c >= '0' && c <= '9' || c == '.' && len(s) > 1 && s[1] >= '0' && s[1] <= '9':
		p.number(s)
	case c == '\'' || c == '"':
		p.str(s, c)
	case c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		i := 1
		for i < len(s) && (s[i] == '_' || s[i] == '$' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
			i++
		}
		if i < len(s) && s[i] >= utf8.RuneSelf || i < len(s) && s[i] == '\\' {
			p.fail() // unicode identifiers and escapes
			return
		}
		p.tok, p.pos = token{kind: tkIdent, s: s[:i]}, p.pos+i
	default:
		if strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/*") || strings.HasPrefix(s, "?.") || strings.HasPrefix(s, "??") || strings.HasPrefix(s, "**") || strings.HasPrefix(s, "--") || strings.HasPrefix(s, "++") {
			p.fail()
			return
		}
		for _, q := range puncts {
			if strings.HasPrefix(s, q) {
				p.tok, p.pos = token{kind: tkPunct, s: q}, p.pos+len(q)
				return
			}
		}
		p.fail()
	}
}

// number reads a decimal literal; hex, octal, binary, legacy octal, separators and
// BigInt are left to the sandbox.
func (p *exprParser) number(s string) {
	i := 0
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	intDigits := digits()
	if intDigits > 1 && s[0] == '0' {
		p.fail()
		return
	}
	if i < len(s) && s[i] == '.' {
		i++
		digits()
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			p.fail()
			return
		}
	}
	if i < len(s) && (s[i] == '_' || s[i] == 'n' || s[i] == '$' || s[i] == '.' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
		p.fail() // 0x1, 1_0, 1n, 1.e, 3in
		return
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		p.fail()
		return
	}
	p.tok, p.pos = token{kind: tkNum, num: f}, p.pos+i
}

func (p *exprParser) str(s string, q byte) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			p.tok, p.pos = token{kind: tkStr, s: b.String()}, p.pos+i+1
			return
		case c == '\n' || c == '\r':
			p.fail()
			return
		case c == '\\':
			if i+1 >= len(s) {
				p.fail()
				return
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'v':
				b.WriteByte('\v')
			case '\\', '\'', '"':
				b.WriteByte(s[i])
			default: // \0, \x, \u, line continuations, legacy octal
				p.fail()
				return
			}
		default:
			b.WriteByte(c)
		}
	}
	p.fail()
}

func (p *exprParser) is(s string) bool { return p.tok.kind == tkPunct && p.tok.s == s }

func (p *exprParser) expect(s string) {
	if !p.is(s) {
		p.fail()
		return
	}
	p.next()
}

func (p *exprParser) ternary() *expr {
	c := p.binary(0)
	if !p.is("?") {
		return c
	}
	p.next()
	a := p.ternary()
	p.expect(":")
	b := p.ternary()
	return &expr{kind: exTernary, a: c, b: a, c: b}
}

var binaryLevels = [][]string{
	{"||"}, {"&&"}, {"==", "!=", "===", "!=="}, {"<", ">", "<=", ">="}, {"+", "-"}, {"*", "/", "%"},
}

func (p *exprParser) binary(level int) *expr {
	if level == len(binaryLevels) {
		return p.unary()
	}
	left := p.binary(level + 1)
	for p.err == nil && p.tok.kind == tkPunct {
		op := p.tok.s
		found := false
		for _, o := range binaryLevels[level] {
			found = found || o == op
		}
		if !found {
			break
		}
		if level == 3 && left.kind == exBinary && slices.Contains(binaryLevels[3], left.op) && !left.paren {
			// goja parses a < b < c unlike JavaScript (1 < 2 < 3 is false there): the
			// sandbox answers, as it always has.
			p.fail()
			return nil
		}
		p.next()
		right := p.binary(level + 1)
		k := exBinary
		if level < 2 {
			k = exLogical
		}
		left = &expr{kind: k, op: op, a: left, b: right}
	}
	return left
}

func (p *exprParser) unary() *expr {
	switch {
	case p.is("!") || p.is("-") || p.is("+"):
		op := p.tok.s
		p.next()
		return &expr{kind: exUnary, op: op, a: p.unary()}
	case p.tok.kind == tkIdent && p.tok.s == "typeof":
		p.next()
		return &expr{kind: exTypeof, a: p.unary()}
	}
	return p.postfix()
}

var nativeMethods = map[string]bool{"includes": true, "startsWith": true, "endsWith": true}

func (p *exprParser) postfix() *expr {
	e := p.primary()
	for p.err == nil {
		switch {
		case p.is("."):
			p.next()
			if p.tok.kind != tkIdent {
				p.fail()
				return nil
			}
			name := p.tok.s
			p.next()
			if p.is("(") {
				if !nativeMethods[name] {
					p.fail()
					return nil
				}
				p.next()
				arg := p.ternary()
				p.expect(")")
				e = &expr{kind: exCall, name: name, a: e, b: arg}
				continue
			}
			e = &expr{kind: exMember, name: name, a: e}
		case p.is("["):
			p.next()
			idx := p.ternary()
			p.expect("]")
			e = &expr{kind: exComputed, a: e, b: idx}
		case p.is("("):
			p.fail() // calls other than the methods above
			return nil
		default:
			return e
		}
	}
	return e
}

// exprReserved are identifiers that are keywords or that a condition could not use as a
// plain name here.
var exprReserved = map[string]bool{"new": true, "delete": true, "void": true, "in": true, "instanceof": true,
	"function": true, "this": true, "class": true, "await": true, "yield": true, "let": true, "var": true,
	"const": true, "return": true, "if": true, "else": true, "super": true, "import": true, "typeof": true}

func (p *exprParser) primary() *expr {
	t := p.tok
	switch t.kind {
	case tkNum:
		p.next()
		return &expr{kind: exLit, val: t.num}
	case tkStr:
		p.next()
		return &expr{kind: exLit, val: t.s}
	case tkIdent:
		p.next()
		switch t.s {
		case "true":
			return &expr{kind: exLit, val: true}
		case "false":
			return &expr{kind: exLit, val: false}
		case "null":
			return &expr{kind: exLit, val: nil}
		}
		if exprReserved[t.s] {
			p.fail()
			return nil
		}
		return &expr{kind: exIdent, name: t.s}
	case tkPunct:
		if t.s == "(" {
			p.next()
			e := p.ternary()
			p.expect(")")
			if e != nil {
				e.paren = true
			}
			return e
		}
	}
	p.fail()
	return nil
}

// idents lists the free identifiers of e.
func (e *expr) idents(out map[string]bool) {
	if e == nil {
		return
	}
	if e.kind == exIdent {
		out[e.name] = true
	}
	e.a.idents(out)
	e.b.idents(out)
	e.c.idents(out)
}

// evalExpr evaluates e over vars (JSON-shaped values: nil, bool, float64 or other Go
// numbers, string, []any, map[string]any). It returns errNotNative where JavaScript
// would throw or where the subset cannot be sure of JavaScript's answer.
func evalExpr(e *expr, vars map[string]any) (any, error) {
	switch e.kind {
	case exLit:
		return e.val, nil
	case exIdent:
		if v, ok := vars[e.name]; ok {
			return jsValue(v)
		}
		switch e.name {
		case "undefined":
			return undef, nil
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		}
		return nil, errNotNative // a global of the sandbox, or a ReferenceError
	case exTernary:
		c, err := evalExpr(e.a, vars)
		if err != nil {
			return nil, err
		}
		if jsTruthy(c) {
			return evalExpr(e.b, vars)
		}
		return evalExpr(e.c, vars)
	case exLogical:
		a, err := evalExpr(e.a, vars)
		if err != nil {
			return nil, err
		}
		if jsTruthy(a) == (e.op == "||") {
			return a, nil
		}
		return evalExpr(e.b, vars)
	case exTypeof:
		a, err := evalExpr(e.a, vars)
		if err != nil {
			return nil, err
		}
		switch a.(type) {
		case jsUndefined:
			return "undefined", nil
		case bool:
			return "boolean", nil
		case float64:
			return "number", nil
		case string:
			return "string", nil
		}
		return "object", nil
	case exUnary:
		a, err := evalExpr(e.a, vars)
		if err != nil {
			return nil, err
		}
		if e.op == "!" {
			return !jsTruthy(a), nil
		}
		n, err := jsToNumber(a)
		if err != nil {
			return nil, err
		}
		if e.op == "-" {
			return -n, nil
		}
		return n, nil
	case exMember, exComputed:
		obj, err := evalExpr(e.a, vars)
		if err != nil {
			return nil, err
		}
		if e.kind == exMember {
			return getProp(obj, e.name)
		}
		k, err := evalExpr(e.b, vars)
		if err != nil {
			return nil, err
		}
		switch x := k.(type) {
		case string:
			return getProp(obj, x)
		case float64:
			if x == math.Trunc(x) && x >= 0 && x < 1<<31 {
				return getProp(obj, strconv.Itoa(int(x)))
			}
		}
		return nil, errNotNative
	case exCall:
		return callMethod(e, vars)
	case exBinary:
		a, err := evalExpr(e.a, vars)
		if err != nil {
			return nil, err
		}
		b, err := evalExpr(e.b, vars)
		if err != nil {
			return nil, err
		}
		return binaryOp(e.op, a, b)
	}
	return nil, errNotNative
}

// jsValue brings a bound value to the evaluator's types (numbers as float64).
func jsValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, float64, []any, map[string]any:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		if x > 1<<53 || x < -(1<<53) {
			return nil, errNotNative
		}
		return float64(x), nil
	case float32:
		return float64(x), nil
	}
	return nil, errNotNative
}

func jsTruthy(v any) bool {
	switch x := v.(type) {
	case nil, jsUndefined:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0 && !math.IsNaN(x)
	}
	return true
}

// objectProtoNames are properties every object inherits: reading one gives a function
// (or an accessor) the subset does not model.
var objectProtoNames = map[string]bool{"constructor": true, "toString": true, "toLocaleString": true, "valueOf": true,
	"hasOwnProperty": true, "isPrototypeOf": true, "propertyIsEnumerable": true, "__proto__": true,
	"__defineGetter__": true, "__defineSetter__": true, "__lookupGetter__": true, "__lookupSetter__": true}

func getProp(obj any, key string) (any, error) {
	switch x := obj.(type) {
	case map[string]any:
		if objectProtoNames[key] {
			return nil, errNotNative
		}
		if v, ok := x[key]; ok {
			return jsValue(v)
		}
		return undef, nil
	case []any:
		if key == "length" {
			return float64(len(x)), nil
		}
		if i, ok := arrayIndex(key); ok {
			if i < len(x) {
				return jsValue(x[i])
			}
			return undef, nil
		}
	case string:
		if key == "length" {
			return float64(utf16Len(x)), nil
		}
		if i, ok := arrayIndex(key); ok && isASCII(x) {
			if i < len(x) {
				return x[i : i+1], nil
			}
			return undef, nil
		}
	}
	return nil, errNotNative // TypeError on null/undefined, prototype members elsewhere
}

// arrayIndex parses a canonical array index ("0", "12", not "01" or "1.0").
func arrayIndex(k string) (int, bool) {
	if k == "" || len(k) > 9 || (len(k) > 1 && k[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return 0, false
		}
		n = n*10 + int(k[i]-'0')
	}
	return n, true
}

func callMethod(e *expr, vars map[string]any) (any, error) {
	recv, err := evalExpr(e.a, vars)
	if err != nil {
		return nil, err
	}
	arg, err := evalExpr(e.b, vars)
	if err != nil {
		return nil, err
	}
	switch r := recv.(type) {
	case string:
		s, err := jsToString(arg)
		if err != nil {
			return nil, err
		}
		switch e.name {
		case "includes":
			return strings.Contains(r, s), nil
		case "startsWith":
			return strings.HasPrefix(r, s), nil
		case "endsWith":
			return strings.HasSuffix(r, s), nil
		}
	case []any:
		if e.name != "includes" {
			return nil, errNotNative
		}
		for _, el := range r {
			v, err := jsValue(el)
			if err != nil {
				return nil, err
			}
			if sameValueZero(v, arg) {
				return true, nil
			}
		}
		return false, nil
	}
	return nil, errNotNative
}

func sameValueZero(a, b any) bool {
	if x, ok := a.(float64); ok {
		if y, ok := b.(float64); ok {
			return x == y || (math.IsNaN(x) && math.IsNaN(y))
		}
		return false
	}
	eq, err := strictEquals(a, b)
	return err == nil && eq
}

func isObject(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

func binaryOp(op string, a, b any) (any, error) {
	switch op {
	case "===", "!==":
		eq, err := strictEquals(a, b)
		return eq == (op == "==="), err
	case "==", "!=":
		eq, err := looseEquals(a, b)
		return eq == (op == "=="), err
	case "+":
		if isObject(a) || isObject(b) {
			return nil, errNotNative
		}
		_, as := a.(string)
		_, bs := b.(string)
		if as || bs {
			x, err := jsToString(a)
			if err != nil {
				return nil, err
			}
			y, err := jsToString(b)
			if err != nil {
				return nil, err
			}
			return x + y, nil
		}
	case "<", ">", "<=", ">=":
		if isObject(a) || isObject(b) {
			return nil, errNotNative
		}
		x, xs := a.(string)
		y, ys := b.(string)
		if xs && ys {
			c := compareUTF16(x, y)
			switch op {
			case "<":
				return c < 0, nil
			case ">":
				return c > 0, nil
			case "<=":
				return c <= 0, nil
			}
			return c >= 0, nil
		}
	}
	x, err := jsToNumber(a)
	if err != nil {
		return nil, err
	}
	y, err := jsToNumber(b)
	if err != nil {
		return nil, err
	}
	switch op {
	case "+":
		return x + y, nil
	case "-":
		return x - y, nil
	case "*":
		return x * y, nil
	case "/":
		if y == 0 {
			// The sign of a zero decides ±Infinity, and goja's integers have no -0
			// (0 * -1 is 0 there): the sandbox answers.
			return nil, errNotNative
		}
		return x / y, nil
	case "%":
		return math.Mod(x, y), nil
	case "<":
		return x < y, nil
	case ">":
		return x > y, nil
	case "<=":
		return x <= y, nil
	case ">=":
		return x >= y, nil
	}
	return nil, errNotNative
}

func strictEquals(a, b any) (bool, error) {
	if isObject(a) && isObject(b) {
		return false, errNotNative // identity: left to the sandbox
	}
	switch x := a.(type) {
	case nil:
		return b == nil, nil
	case jsUndefined:
		_, ok := b.(jsUndefined)
		return ok, nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y, nil
	case float64:
		y, ok := b.(float64)
		return ok && x == y, nil
	case string:
		y, ok := b.(string)
		return ok && x == y, nil
	}
	return false, nil // an object and a primitive
}

func looseEquals(a, b any) (bool, error) {
	if isObject(a) || isObject(b) {
		if isObject(a) && isObject(b) {
			return false, errNotNative
		}
		p := b
		if isObject(b) {
			p = a
		}
		if p == nil || p == undef {
			return false, nil
		}
		return false, errNotNative // ToPrimitive of the object
	}
	an := a == nil || a == undef
	bn := b == nil || b == undef
	if an || bn {
		return an && bn, nil
	}
	switch x := a.(type) {
	case bool:
		if _, ok := b.(bool); !ok {
			return looseEquals(boolNum(x), b)
		}
	case string:
		if y, ok := b.(float64); ok {
			return looseStringNumber(x, y)
		}
	case float64:
		switch y := b.(type) {
		case string:
			return looseStringNumber(y, x)
		case bool:
			return x == boolNum(y), nil
		}
	}
	if y, ok := b.(bool); ok {
		if _, ok := a.(bool); !ok {
			return looseEquals(a, boolNum(y))
		}
	}
	return strictEquals(a, b)
}

// looseStringNumber is s == n. goja, the sandbox, departs from JavaScript when n is an
// integer and s is number text other than plain digits ("1e3" == 1000 and "1.0" == 1
// are false there): those cases go to the sandbox, so both paths answer alike.
func looseStringNumber(s string, n float64) (bool, error) {
	f, err := stringToNumber(s)
	if err != nil {
		return false, err
	}
	if math.IsNaN(f) || math.IsNaN(n) {
		return false, nil
	}
	if n == math.Trunc(n) && !math.IsInf(n, 0) {
		if t := strings.TrimFunc(s, isJSSpace); t != "" && !plainDigits.MatchString(t) {
			return false, errNotNative
		}
	}
	return f == n, nil
}

var plainDigits = regexp.MustCompile(`^[0-9]+$`)

func boolNum(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func jsToNumber(v any) (float64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case jsUndefined:
		return math.NaN(), nil
	case bool:
		return boolNum(x), nil
	case float64:
		return x, nil
	case string:
		return stringToNumber(x)
	}
	return 0, errNotNative
}

// stringToNumber is JavaScript's StringToNumber for decimal text; hex, octal and
// binary text goes to the sandbox.
func stringToNumber(s string) (float64, error) {
	s = strings.TrimFunc(s, isJSSpace)
	switch {
	case s == "":
		return 0, nil
	case s == "Infinity" || s == "+Infinity":
		return math.Inf(1), nil
	case s == "-Infinity":
		return math.Inf(-1), nil
	case len(s) > 1 && s[0] == '0' && strings.IndexByte("xXoObB", s[1]) >= 0:
		return 0, errNotNative
	case !decimalText.MatchString(s):
		return math.NaN(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, errNotNative
	}
	return f, nil
}

var decimalText = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// isJSSpace is JavaScript's WhiteSpace and LineTerminator.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

func jsToString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "null", nil
	case jsUndefined:
		return "undefined", nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	case float64:
		return numberToString(x), nil
	case string:
		return x, nil
	}
	return "", errNotNative
}

// numberToString is JavaScript's Number::jsToString(10).
func numberToString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	// Shortest round-trip digits, as JavaScript requires.
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k, n := len(digits), x+1
	var out string
	switch {
	case k <= n && n <= 21:
		out = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		out = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		out = "0." + strings.Repeat("0", -n) + digits
	default:
		es := "+"
		if n-1 < 0 {
			es = "-"
		}
		ab := n - 1
		if ab < 0 {
			ab = -ab
		}
		if k == 1 {
			out = digits + "e" + es + strconv.Itoa(ab)
		} else {
			out = digits[:1] + "." + digits[1:] + "e" + es + strconv.Itoa(ab)
		}
	}
	return sign + out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func utf16Len(s string) int {
	if isASCII(s) {
		return len(s)
	}
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// compareUTF16 orders strings by UTF-16 code units, as JavaScript does.
func compareUTF16(a, b string) int {
	if isASCII(a) && isASCII(b) {
		return strings.Compare(a, b)
	}
	x, y := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(x) && i < len(y); i++ {
		if x[i] != y[i] {
			if x[i] < y[i] {
				return -1
			}
			return 1
		}
	}
	return len(x) - len(y)
}
