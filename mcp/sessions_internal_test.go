package mcp

import (
	"strings"
	"testing"
	"time"
)

// Session ids are good on every replica that shares the signing key, for their owner and
// endpoint only, for a day; an id ended on one replica is refused there.
func TestSessionIDsAcrossReplicas(t *testing.T) {
	key := newSessions("", nil).sign // one key, as replicas derive from one master key
	a, b := &sessions{sign: key}, &sessions{sign: key}
	other := &sessions{endpoint: "srv1", sign: key}
	stranger := newSessions("", nil) // another master key
	now := time.Now()
	id := a.issue("key:k1", now)
	if !strings.HasPrefix(id, "mcp-session-") {
		t.Fatalf("id %q", id)
	}
	tampered := id[:len(id)-2] + "AA"
	if strings.HasSuffix(id, "AA") {
		tampered = id[:len(id)-2] + "BB"
	}
	for _, c := range []struct {
		name  string
		s     *sessions
		id    string
		owner string
		at    time.Time
		want  bool
	}{
		{"issuing replica", a, id, "key:k1", now, true},
		{"another replica", b, id, "key:k1", now, true},
		{"another key", b, id, "key:k2", now, false},
		{"a user of no key", b, id, "user:k1", now, false},
		{"another endpoint", other, id, "key:k1", now, false},
		{"another master key", stranger, id, "key:k1", now, false},
		{"tampered", b, tampered, "key:k1", now, false},
		{"made up", b, "mcp-session-made-up", "key:k1", now, false},
		{"a day later", b, id, "key:k1", now.Add(sessionMaxAge + time.Minute), false},
		{"no owner", b, id, "", now, false},
	} {
		if got := c.s.ownedBy(c.id, c.owner, c.at); got != c.want {
			t.Errorf("%s: ownedBy = %v, want %v", c.name, got, c.want)
		}
	}
	a.end(id, now)
	if a.ownedBy(id, "key:k1", now) {
		t.Error("an ended session is still good where it ended")
	}
}
