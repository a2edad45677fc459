package embed

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

var funcs = template.FuncMap{
	"when":   when,
	"ago":    ago,
	"ms":     durationMs,
	"pct":    func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"num":    func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"join":   strings.Join,
	"indent": func(depth int) int { return depth * 16 },
	"sub":    func(a, b float64) float64 { return a - b },
	"add":    func(a, b int) int { return a + b },
	"dict":   dict,
	"list":   func(s ...string) []string { return s },
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
}

// when formats a time (or *time.Time) for tables: UTC, to the minute; "—" for none.
func when(v any) string {
	t, ok := timeOf(v)
	if !ok {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// ago says how long ago (or how far ahead) a time is, for "last used" and expiries.
func ago(v any) string {
	t, ok := timeOf(v)
	if !ok {
		return "never"
	}
	d := time.Since(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		if future {
			return "in under a minute"
		}
		return "just now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 47*time.Hour:
		s = plural(int((d+30*time.Minute)/time.Hour), "hour") // nearest: "expires in 24 hours", not 23
	default:
		s = plural(int((d+12*time.Hour)/(24*time.Hour)), "day")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func timeOf(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t == nil || t.IsZero() {
			return time.Time{}, false
		}
		return *t, true
	}
	return time.Time{}, false
}

func durationMs(v any) string {
	var ms float64
	switch x := v.(type) {
	case int64:
		ms = float64(x)
	case int:
		ms = float64(x)
	case float64:
		ms = x
	}
	switch {
	case ms < 1:
		return "<1 ms"
	case ms < 1000:
		return fmt.Sprintf("%.0f ms", ms)
	case ms < 60000:
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.1f min", ms/60000)
}

// dict builds a map from key/value pairs, to pass several values to a sub-template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict needs key/value pairs")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
