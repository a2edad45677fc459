package engine

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
)

// Redacted replaces a credential in logs, trace spans, error messages and exports.
const Redacted = "[REDACTED]"

// Redaction is one rule set applied wherever a workflow's values leave the engine for
// someone who may only read: block logs and trace spans, logged inputs and outputs,
// error messages, the logged workflow state, and exports. It masks
//
//   - every occurrence of a known secret value (workspace environment variables);
//   - values whose name says they are credentials (see CredentialName): object fields,
//     header and param table rows ({Key, Value} cells), subBlocks and variables
//     ({id|name, value}), name: "value" / name = "value" in code and JSON text, and
//     form-encoded bodies;
//   - URL userinfo, and query or fragment values (all of them in diagnostics, the
//     credential-named ones in exports, which must stay runnable);
//   - the token after "Bearer " or "Basic ".
//
// Values that are only references — {{ENV_NAME}}, <block.path>, optionally after a
// scheme word such as "Bearer" — are kept: they are not secrets, and an export keeps
// working once the environment variable exists.
//
// Only values are replaced; names, ids, types and the shape of objects are kept, so a
// redacted definition still imports.

// Redact returns a copy of v with every secret (values of at least 4 bytes) and every
// credential-bearing value replaced by Redacted. It is the diagnostics rule: all
// literal query values in URLs are masked.
func Redact(v any, secrets []string) any {
	return newRedactor(secrets, true).value("", v)
}

// RedactText masks credentials in a free-text message (an error, a log line).
func RedactText(s string, secrets []string) string {
	return newRedactor(secrets, true).text(s)
}

// redactor applies the rule set; the zero secrets list is fine.
type redactor struct {
	secrets  []string // longest first, each ≥ 4 bytes
	allQuery bool     // mask every literal query value, not only credential-named ones
}

// newRedactor ignores secrets shorter than 4 bytes: masking "1" everywhere would
// destroy the log without protecting anything.
func newRedactor(secrets []string, allQuery bool) *redactor {
	rd := &redactor{allQuery: allQuery}
	for _, s := range secrets {
		if len(s) >= 4 {
			rd.secrets = append(rd.secrets, s)
		}
	}
	// Longest first, so a secret containing another is masked whole.
	slices.SortFunc(rd.secrets, func(a, b string) int { return len(b) - len(a) })
	return rd
}

// CredentialName reports whether a field, header, parameter or variable called name
// holds a credential: Authorization, Proxy-Authorization, Cookie, Set-Cookie, and any
// name containing token, secret, password, passwd, credential or signature, or ending
// in key/keys (X-API-Key, apiKey, private_key; not "keyword"). Token counts such as
// maxTokens are not credentials.
func CredentialName(name string) bool {
	// Names are short ASCII almost always, and this runs for every key of every logged
	// block input and output: that case is answered without allocating.
	if len(name) <= 64 && isASCII(name) {
		return credentialNameASCII(name)
	}
	return credentialNameSlow(name)
}

// credentialNameASCII is CredentialName for short ASCII names, on a stack buffer.
// TestCredentialNameFastPath holds it to credentialNameSlow.
func credentialNameASCII(name string) bool {
	var buf [64]byte
	n := buf[:0]
	for i := 0; i < len(name); i++ {
		if c := lowerASCII(name[i]); isAlnumByte(c) {
			n = append(n, c)
		}
	}
	if len(n) == 0 {
		return false
	}
	if credentialExact[string(n)] {
		return true
	}
	for _, w := range credentialWordBytes {
		if bytes.Contains(n, w) {
			return true
		}
	}
	if bytes.Contains(n, []byte("token")) && !bytes.HasSuffix(n, []byte("tokens")) {
		return true
	}
	if bytes.HasSuffix(n, []byte("key")) || bytes.HasSuffix(n, []byte("keys")) {
		return true
	}
	// "key" as one word of a longer name: api_key_id, X-Key-Name.
	for i := 0; i < len(name); {
		j := i
		for j < len(name) && isAlnumByte(lowerASCII(name[j])) {
			j++
		}
		if j-i == 3 && lowerASCII(name[i]) == 'k' && lowerASCII(name[i+1]) == 'e' && lowerASCII(name[i+2]) == 'y' {
			return true
		}
		i = j + 1
	}
	return false
}

var credentialWordBytes = func() [][]byte {
	out := make([][]byte, len(credentialWords))
	for i, w := range credentialWords {
		out[i] = []byte(w)
	}
	return out
}()

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isAlnumByte(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func credentialNameSlow(name string) bool {
	n := normName(name)
	if n == "" {
		return false
	}
	if credentialExact[n] {
		return true
	}
	for _, w := range credentialWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	if strings.Contains(n, "token") && !strings.HasSuffix(n, "tokens") {
		return true
	}
	if strings.HasSuffix(n, "key") || strings.HasSuffix(n, "keys") {
		return true
	}
	// "key" as one word of a longer name: api_key_id, X-Key-Name.
	for _, part := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return !isAlnum(r) }) {
		if part == "key" {
			return true
		}
	}
	return false
}

var credentialExact = map[string]bool{
	"authorization": true, "proxyauthorization": true, "cookie": true, "setcookie": true,
	"auth": true, "sig": true, "jwt": true, "pwd": true, "pass": true, "sessionid": true,
}

var credentialWords = []string{"secret", "password", "passwd", "passphrase", "credential", "signature", "privatekey"}

func normName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if isAlnum(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

var (
	envRef     = regexp.MustCompile(`\{\{[^{}]+\}\}`)
	blockRef   = regexp.MustCompile(`<[A-Za-z_][^<>\s]*>`)
	schemeWord = map[string]bool{"": true, "bearer": true, "basic": true, "token": true}
)

// isReference reports whether s holds no literal secret: only {{ENV}} and <block.path>
// references, optionally after an auth scheme word ("Bearer {{API_TOKEN}}").
func isReference(s string) bool {
	if !strings.Contains(s, "{{") && !strings.Contains(s, "<") {
		return false
	}
	rest := blockRef.ReplaceAllString(envRef.ReplaceAllString(s, ""), "")
	return schemeWord[strings.ToLower(strings.TrimSpace(rest))]
}

// collectSecrets adds to dst the literal string values of v that sit under credential
// names, so they are masked wherever they flow in the run, not only under that name.
func collectSecrets(name string, v any, dst *[]string) {
	switch x := v.(type) {
	case string:
		if x != "" && CredentialName(name) && !isReference(x) {
			*dst = append(*dst, x)
		}
	case map[string]any:
		nf, vf := namedValue(x)
		for k, e := range x {
			switch k {
			case vf:
				collectSecrets(toStr(x[nf]), e, dst)
			case nf:
			default:
				collectSecrets(k, e, dst)
			}
		}
	case []any:
		for _, e := range x {
			collectSecrets(name, e, dst)
		}
	}
}

// value redacts v, found under name ("" when it has none).
func (rd *redactor) value(name string, v any) any {
	switch x := v.(type) {
	case string:
		if x != "" && CredentialName(name) && !isReference(x) {
			return Redacted
		}
		return rd.text(x)
	case map[string]any:
		return rd.object(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = rd.value(name, e)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i], _ = rd.value(name, e).(string)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, e := range x {
			out[k], _ = rd.value(k, e).(string)
		}
		return out
	}
	return v
}

// object redacts a map. A map that names its own value — a table row's cells
// {Key, Value}, a subBlock {id, type, value}, a variable or input field {name, value}
// — is judged by that name; its name field itself is left alone.
func (rd *redactor) object(m map[string]any) map[string]any {
	nameField, valueField := namedValue(m)
	out := make(map[string]any, len(m))
	for k, e := range m {
		switch {
		case k == valueField:
			out[k] = rd.value(toStr(m[nameField]), e)
		case k == nameField:
			out[k] = e
		default:
			out[k] = rd.value(k, e)
		}
	}
	return out
}

// namedValue returns the fields of a name/value pair object, or "", "".
func namedValue(m map[string]any) (nameField, valueField string) {
	for _, vf := range [...]string{"Value", "value"} {
		if _, ok := m[vf]; !ok {
			continue
		}
		for _, nf := range [...]string{"Key", "key", "name", "Name", "id"} {
			if s, ok := m[nf].(string); ok && s != "" {
				return nf, vf
			}
		}
	}
	return "", ""
}

var (
	// A URL; stops at whitespace and quotes (<block.ref> references may sit inside).
	urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'` + "`" + `]+`)
	// The credential of an Authorization-style value in free text.
	bearerPattern = regexp.MustCompile(`\b(?:[Bb]earer|BEARER|Basic)\s+([A-Za-z0-9\-._~+/]{6,}=*)`)
	// name: "value", name = 'value', "name": "value" — in code and JSON text. Group 1..3
	// is the name (bare, double-quoted, single-quoted), group 4..6 the value.
	assignPattern = regexp.MustCompile(`(?:\b([A-Za-z_$][\w$\-]*)|"([^"\\\n]{1,64})"|'([^'\\\n]{1,64})')\s*[:=]\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|` + "`([^`]*)`" + `)`)
	// A whole form-encoded body: a=1&password=x.
	formPattern = regexp.MustCompile(`^[\w.\-%\[\]]+=[^&\s]*(?:&[\w.\-%\[\]]+=[^&\s]*)+$|^[\w.\-%\[\]]+=[^&\s=]+$`)
)

// maxStructuredText bounds the strings re-parsed as JSON; larger ones get the text
// rules only.
const maxStructuredText = 1 << 20

// text redacts a free-text value.
func (rd *redactor) text(s string) string { return rd.textWith(s, true) }

// textWith is text; quick false always takes the full path (for the differential test).
func (rd *redactor) textWith(s string, quick bool) string {
	if s == "" {
		return s
	}
	for _, sec := range rd.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	// JSON text (a body or table kept as a string) is redacted as the structure it is.
	if t := strings.TrimSpace(s); len(t) >= 2 && len(t) <= maxStructuredText && (t[0] == '{' || t[0] == '[') {
		if quick && nothingToMask(t) {
			return s
		}
		var v any
		if json.Unmarshal([]byte(t), &v) == nil {
			orig, err1 := marshalPlain(v)
			red, err2 := marshalPlain(rd.value("", v))
			if err1 == nil && err2 == nil && !bytes.Equal(orig, red) {
				return string(red)
			}
			return s
		}
	}
	if strings.Contains(s, "://") {
		s = urlPattern.ReplaceAllStringFunc(s, rd.url)
	}
	if strings.Contains(s, "earer") || strings.Contains(s, "EARER") || strings.Contains(s, "Basic") {
		s = replaceGroup(bearerPattern, s, func(_ []string, v string) string {
			if isReference(v) {
				return v
			}
			return Redacted
		})
	}
	if strings.ContainsAny(s, ":=") && mentionsCredential(s) {
		s = replaceAssignments(s)
	}
	if strings.Contains(s, "=") && !strings.ContainsAny(s, " \t\n") && formPattern.MatchString(s) {
		s = rd.query(s, false)
	}
	return s
}

// nothingToMask reports that no rule can change text t, so parsing it as JSON and
// encoding it twice to compare (most of a logged JSON string's redaction cost) can be
// skipped. Without a backslash every string in t, key or value, appears in t literally;
// secret values were replaced already; URLs, Authorization schemes and form bodies need
// "://", "earer"/"Basic" or "="; and every credential name (CredentialName) contains one
// of nameHints once lowercased with its punctuation dropped, as a substring of t does
// in normName(t). TestNothingToMaskDifferential holds it to the full path.
func nothingToMask(t string) bool {
	if strings.ContainsAny(t, "\\=") || strings.Contains(t, "://") || strings.Contains(t, "earer") ||
		strings.Contains(t, "EARER") || strings.Contains(t, "Basic") {
		return false
	}
	n := normName(t)
	for _, h := range nameHints {
		if strings.Contains(n, h) {
			return false
		}
	}
	return true
}

// nameHints: every name CredentialName accepts contains one of these after normName.
var nameHints = []string{"auth", "cookie", "sig", "jwt", "pwd", "pass", "session", "secret", "credential", "token", "key"}

// credentialHints are substrings every credential name contains (lowercase); text
// without any of them has no credential assignment to mask.
var credentialHints = []string{"token", "secret", "pass", "pwd", "key", "auth", "cookie", "signature", "credential", "jwt", "session"}

func mentionsCredential(s string) bool {
	l := strings.ToLower(s)
	for _, h := range credentialHints {
		if strings.Contains(l, h) {
			return true
		}
	}
	return false
}

func marshalPlain(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// url masks userinfo and query/fragment values of one URL, keeping scheme, host and path.
func (rd *redactor) url(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return u
	}
	rest := u[i+3:]
	authEnd := strings.IndexAny(rest, "/?#")
	if authEnd < 0 {
		authEnd = len(rest)
	}
	if at := strings.LastIndex(rest[:authEnd], "@"); at >= 0 {
		if !isReference(strings.ReplaceAll(rest[:at], ":", "")) {
			rest = Redacted + rest[at:]
			authEnd = len(Redacted) + (authEnd - at)
		}
	}
	tail := rest[authEnd:]
	var frag string
	if h := strings.IndexByte(tail, '#'); h >= 0 {
		tail, frag = tail[:h], tail[h+1:]
	}
	if q := strings.IndexByte(tail, '?'); q >= 0 {
		tail = tail[:q+1] + rd.query(tail[q+1:], rd.allQuery)
	}
	if frag != "" {
		if strings.Contains(frag, "=") {
			frag = rd.query(frag, rd.allQuery)
		}
		tail += "#" + frag
	}
	return u[:i+3] + rest[:authEnd] + tail
}

// query masks the values of a&b=c style pairs: credential-named ones, or all literal
// ones when all is set. The text is edited in place, so references stay unescaped.
func (rd *redactor) query(q string, all bool) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok || v == "" || isReference(v) || strings.Contains(v, "%7B%7B") {
			continue
		}
		if all || CredentialName(k) {
			parts[i] = k + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// replaceAssignments masks the literal of name: "literal" when name is a credential
// name. A bare "key" is left alone: in code it is usually a map key, not a secret.
func replaceAssignments(s string) string {
	return replaceGroupN(assignPattern, s, func(m []string) (int, string, bool) {
		name := m[1] + m[2] + m[3]
		if strings.EqualFold(name, "key") || !CredentialName(name) {
			return 0, "", false
		}
		for g := 4; g <= 6; g++ {
			if m[g] != "" {
				if isReference(m[g]) {
					return 0, "", false
				}
				return g, Redacted, true
			}
		}
		return 0, "", false
	})
}

// replaceGroup replaces submatch 1 of every match of re with fn's result.
func replaceGroup(re *regexp.Regexp, s string, fn func(m []string, group string) string) string {
	return replaceGroupN(re, s, func(m []string) (int, string, bool) {
		return 1, fn(m, m[1]), true
	})
}

// replaceGroupN replaces, in every match of re, the submatch fn names with fn's text.
func replaceGroupN(re *regexp.Regexp, s string, fn func(m []string) (group int, repl string, ok bool)) string {
	idx := re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, loc := range idx {
		m := make([]string, len(loc)/2)
		for g := range m {
			if loc[2*g] >= 0 {
				m[g] = s[loc[2*g]:loc[2*g+1]]
			}
		}
		g, repl, ok := fn(m)
		if !ok || loc[2*g] < 0 {
			continue
		}
		b.WriteString(s[last:loc[2*g]])
		b.WriteString(repl)
		last = loc[2*g+1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// valueMap redacts a block's input or output map.
func (rd *redactor) valueMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return rd.object(m)
}

// redactURL is a URL as error messages may show it.
func redactURL(s string) string {
	return (&redactor{allQuery: true}).url(s)
}
