package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

type refKind uint8

const (
	refBlock refKind = iota
	refVariable
	refLoop
	refParallel
)

// ref is a parsed <…> reference whose first segment names something the workflow knows.
type ref struct {
	raw     string // "<agent1.content>" as written
	kind    refKind
	blockID string   // refBlock: block or container id
	path    []string // segments after the first; "items[0]" is split into "items","0"
}

// segment is one piece of a template: literal text, a reference or an env var.
type segment struct {
	lit string
	ref *ref
	env string // {{NAME}}; lit holds the text as written
}

// template is a string param parsed once at compile time.
type template struct {
	segs []segment
}

// names resolves the first segment of references at compile time.
type names struct {
	byName map[string]*Block // normalised name → enabled block
	env    map[string]bool   // {{NAME}} references seen while compiling
}

// isLikelyReference mirrors Sim's isLikelyReferenceSegment so that comparisons such as
// `a < b > c` in code stay literal.
func isLikelyReference(inner string) bool {
	if inner == "" || inner[0] == ' ' || inner[0] == '\t' {
		return false
	}
	if strings.ContainsAny(inner, "+*/=<>!\n") {
		return false
	}
	if strings.Contains(inner, ". ") {
		return false
	}
	allDigits := true
	for _, c := range inner {
		if c < '0' || c > '9' {
			allDigits = false
			break
		}
	}
	return !allDigits
}

// parseRef parses the inside of <…>; nil when it is not a reference to anything known
// (then the text stays verbatim, as in Sim).
func (n *names) parseRef(inner string) *ref {
	if !isLikelyReference(inner) {
		return nil
	}
	parts := splitPath(inner)
	if len(parts) == 0 {
		return nil
	}
	head := NormalizeName(parts[0])
	r := &ref{raw: "<" + inner + ">", path: parts[1:]}
	switch head {
	case "loop":
		r.kind = refLoop
	case "parallel":
		r.kind = refParallel
	case "variable":
		if len(r.path) == 0 {
			return nil
		}
		r.kind = refVariable
	default:
		b, ok := n.byName[head]
		if !ok {
			return nil
		}
		r.kind, r.blockID = refBlock, b.ID
	}
	return r
}

// splitPath splits "a.b[0][1].c" into a, b, 0, 1, c.
func splitPath(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ".") {
		for {
			i := strings.IndexByte(part, '[')
			if i < 0 {
				break
			}
			j := strings.IndexByte(part[i:], ']')
			if j < 0 {
				break
			}
			if i > 0 {
				out = append(out, part[:i])
			}
			out = append(out, strings.Trim(part[i+1:i+j], `"' `))
			part = part[i+j+1:]
		}
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseTemplate splits text into literals, references and {{ENV}} refs. Only the
// authored text is scanned: a value a reference resolves to is never re-scanned for
// {{ENV}}, so workflow input cannot pull secrets out of the environment.
func (n *names) parseTemplate(s string) *template {
	t := &template{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		if s[i] == '<' {
			if j := strings.IndexAny(s[i+1:], "<>"); j >= 0 && s[i+1+j] == '>' {
				inner := s[i+1 : i+1+j]
				if r := n.parseRef(inner); r != nil {
					flush()
					t.segs = append(t.segs, segment{ref: r})
					i += j + 2
					continue
				}
			}
		}
		if s[i] == '{' && strings.HasPrefix(s[i:], "{{") {
			if j := strings.Index(s[i+2:], "}}"); j > 0 {
				name := strings.TrimSpace(s[i+2 : i+2+j])
				if ValidEnvName(name) {
					flush()
					n.noteEnv(name)
					t.segs = append(t.segs, segment{env: name, lit: s[i : i+4+j]})
					i += j + 4
					continue
				}
			}
		}
		lit.WriteByte(s[i])
		i++
	}
	flush()
	return t
}

// wholeRef returns the reference when the template is exactly one reference.
func (t *template) wholeRef() *ref {
	if len(t.segs) == 1 && t.segs[0].ref != nil {
		return t.segs[0].ref
	}
	return nil
}

func (t *template) static() bool {
	for _, s := range t.segs {
		if s.ref != nil || s.env != "" {
			return false
		}
	}
	return true
}

// InvalidFieldError is a reference to a field that does not exist on a block that ran.
type InvalidFieldError struct {
	Block     string
	Path      string
	Available []string
}

func (e *InvalidFieldError) Error() string {
	return fmt.Sprintf("%q doesn't exist on block %q. Available fields: %s", e.Path, e.Block, strings.Join(e.Available, ", "))
}

// navigate walks path into v. ok is false when a segment is missing. JSON strings are
// parsed on the way so <agent.content.field> works on a JSON reply.
func navigate(v any, path []string) (any, bool) {
	for _, p := range path {
		if s, isStr := v.(string); isStr {
			v = parseMaybeJSON(s)
		}
		switch x := v.(type) {
		case map[string]any:
			e, ok := x[p]
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			if p == "length" {
				v = float64(len(x))
				continue
			}
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// codeBinding is one reference replaced by a JS identifier in compiled code.
type codeBinding struct {
	ident    string
	ref      *ref
	env      string
	asString bool // inside a string literal: bound as its string rendering
}

// compiledCode is JavaScript with references replaced by identifiers; the values travel
// in the globals map so no value is ever spliced into source text.
type compiledCode struct {
	code     string
	bindings []codeBinding
}

// compileCode rewrites references in JS source. Inside '…' or "…" literals a reference
// becomes `' + __ref_N + '` (bound as its string form, like a template param); inside a
// template literal `${__ref_N}`; in code the bare identifier bound to the raw value;
// comments are left alone.
func (n *names) compileCode(src string, prefix string) *compiledCode {
	cc := &compiledCode{}
	out := make([]byte, 0, len(src)+16)
	// A string literal that receives a reference is wrapped in parentheses so that
	// 'a<x>b'.length still applies to the whole concatenation.
	litStart, litRefs := 0, 0
	const (
		stCode = iota
		stSingle
		stDouble
		stTemplate
		stLineComment
		stBlockComment
	)
	state := stCode
	var tmplDepth []int // brace depth at which each open ${ returns to a template literal
	braces := 0
	bind := func(b codeBinding) string {
		b.ident = prefix + strconv.Itoa(len(cc.bindings))
		cc.bindings = append(cc.bindings, b)
		return b.ident
	}
	for i := 0; i < len(src); {
		c := src[i]
		// references and env refs, in any non-comment state
		if state != stLineComment && state != stBlockComment && (c == '<' || (c == '{' && strings.HasPrefix(src[i:], "{{"))) {
			var b *codeBinding
			adv := 0
			if c == '<' {
				if j := strings.IndexAny(src[i+1:], "<>\n"); j >= 0 && src[i+1+j] == '>' {
					if r := n.parseRef(src[i+1 : i+1+j]); r != nil {
						b, adv = &codeBinding{ref: r}, j+2
					}
				}
			} else if j := strings.Index(src[i+2:], "}}"); j > 0 {
				if name := strings.TrimSpace(src[i+2 : i+2+j]); ValidEnvName(name) {
					n.noteEnv(name)
					b, adv = &codeBinding{env: name}, j+4
				}
			}
			if b != nil {
				switch state {
				case stCode:
					out = append(out, bind(*b)...)
				case stSingle, stDouble:
					q := "'"
					if state == stDouble {
						q = `"`
					}
					b.asString = true
					out = append(out, q+" + "+bind(*b)+" + "+q...)
					litRefs++
				case stTemplate:
					b.asString = true
					out = append(out, "${"+bind(*b)+"}"...)
				}
				i += adv
				continue
			}
		}
		switch state {
		case stCode:
			switch {
			case c == '\'':
				state, litStart, litRefs = stSingle, len(out), 0
			case c == '"':
				state, litStart, litRefs = stDouble, len(out), 0
			case c == '`':
				state = stTemplate
			case c == '/' && i+1 < len(src) && src[i+1] == '/':
				state = stLineComment
			case c == '/' && i+1 < len(src) && src[i+1] == '*':
				state = stBlockComment
			case c == '{':
				braces++
			case c == '}':
				if len(tmplDepth) > 0 && tmplDepth[len(tmplDepth)-1] == braces {
					tmplDepth = tmplDepth[:len(tmplDepth)-1]
					state = stTemplate
				} else {
					braces--
				}
			}
		case stSingle, stDouble:
			if c == '\\' && i+1 < len(src) {
				out = append(out, c, src[i+1])
				i += 2
				continue
			}
			if (state == stSingle && c == '\'') || (state == stDouble && c == '"') || c == '\n' {
				state = stCode
				if litRefs > 0 {
					lit := append([]byte{'('}, out[litStart:]...)
					out = append(append(out[:litStart], lit...), c, ')')
					i++
					continue
				}
			}
		case stTemplate:
			if c == '\\' && i+1 < len(src) {
				out = append(out, c, src[i+1])
				i += 2
				continue
			}
			if c == '`' {
				state = stCode
			} else if c == '$' && i+1 < len(src) && src[i+1] == '{' {
				tmplDepth = append(tmplDepth, braces)
				state = stCode
				out = append(out, "${"...)
				i += 2
				continue
			}
		case stLineComment:
			if c == '\n' {
				state = stCode
			}
		case stBlockComment:
			if c == '*' && i+1 < len(src) && src[i+1] == '/' {
				out = append(out, "*/"...)
				i += 2
				state = stCode
				continue
			}
		}
		out = append(out, c)
		i++
	}
	cc.code = string(out)
	return cc
}

// envLiteral converts an env value for condition code: Sim substitutes only numbers,
// booleans and null there; other values are bound as strings.
func envLiteral(s string) any {
	t := strings.TrimSpace(s)
	switch t {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		return f
	}
	return s
}

// jsonOrString parses s as JSON, falling back to the string itself.
func jsonOrString(s string) any {
	var v any
	if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &v); err == nil {
		return v
	}
	return s
}
