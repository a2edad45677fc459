package embed

import (
	"testing"
	"time"
)

func TestAgo(t *testing.T) {
	now := time.Now()
	cases := []struct {
		at   any
		want string
	}{
		{nil, "never"},
		{(*time.Time)(nil), "never"},
		{now.Add(-10 * time.Second), "just now"},
		{now.Add(-5 * time.Minute), "5 minutes ago"},
		{now.Add(-time.Hour - time.Minute), "1 hour ago"},
		{now.Add(24*time.Hour - time.Second), "in 24 hours"},
		{now.Add(7*24*time.Hour - time.Minute), "in 7 days"},
		{now.Add(-3 * 24 * time.Hour), "3 days ago"},
	}
	for _, c := range cases {
		if got := ago(c.at); got != c.want {
			t.Errorf("ago(%v) = %q, want %q", c.at, got, c.want)
		}
	}
	if got := durationMs(int64(1500)); got != "1.50 s" {
		t.Errorf("durationMs(1500) = %q", got)
	}
}
