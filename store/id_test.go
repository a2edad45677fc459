package store

import (
	"testing"
	"time"
)

func TestIDTime(t *testing.T) {
	before := time.Now().Truncate(time.Millisecond)
	id := NewID()
	after := time.Now()
	got, ok := IDTime(id)
	if !ok || got.Before(before) || got.After(after) {
		t.Fatalf("IDTime(%s) = %v, %v; want a time in [%v, %v]", id, got, ok, before, after)
	}
	for _, bad := range []string{"", "missing", "01arz3ndektsv4rrffq69g5fa", "01arz3ndektsv4rrffq69g5fav!", "81arz3ndektsv4rrffq69g5fav"} {
		if _, ok := IDTime(bad); ok {
			t.Errorf("IDTime(%q) ok, want not an id NewID makes", bad)
		}
	}
}
