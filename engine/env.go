package engine

import (
	"fmt"
	"sort"
)

// MaxEnvNameLen bounds an environment variable name.
const MaxEnvNameLen = 128

// ValidEnvName reports whether name can be an environment variable: a letter or _
// followed by letters, digits and _ (at most MaxEnvNameLen). Only such names inside
// {{…}} are env references; other {{…}} text (a mustache template in an HTTP body, say)
// stays literal, so a run does not fail on text that never meant an env var.
func ValidEnvName(name string) bool {
	if name == "" || len(name) > MaxEnvNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// EnvNotSetError fails the block that references an environment variable the run does
// not have. Sim passes such references through as literal text, which sends
// "{{API_KEY}}" to the outside world; SteelEngine refuses instead.
type EnvNotSetError struct{ Name string }

func (e *EnvNotSetError) Error() string {
	return fmt.Sprintf("environment variable %q is not set (set it with 'steelengine env set' or in the workspace's environment)", e.Name)
}

// envValue returns the value of {{name}} for this run.
func (x *execCtx) envValue(name string) (string, error) {
	v, ok := x.r.in.Env[name]
	if !ok {
		return "", &EnvNotSetError{Name: name}
	}
	return v, nil
}

// noteEnv records a referenced env name at compile time.
func (n *names) noteEnv(name string) {
	if n.env == nil {
		n.env = map[string]bool{}
	}
	n.env[name] = true
}

// EnvNames lists, sorted, the environment variables the plan's blocks reference with
// {{NAME}} (deploy warns about those that are not set).
func (p *Plan) EnvNames() []string {
	out := make([]string, 0, len(p.names.env))
	for k := range p.names.env {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
