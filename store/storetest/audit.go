package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func testAudit(t *testing.T, open Opener) {
	s := open(t)
	epoch := s.AuthEpoch()
	if evs, err := s.ListAudit(ctx, "", 10); err != nil || len(evs) != 0 {
		t.Fatalf("empty trail = %v, %v", evs, err)
	}
	if err := s.AddAudit(ctx); err != nil {
		t.Fatalf("adding no events: %v", err)
	}

	full := &store.AuditEvent{ID: "00000000000000000000000001", Time: t0, Action: "created", KeyID: "k1", ActorID: "u1",
		WorkspaceID: "w1", OrgID: "o1", Reason: "because", IP: "192.0.2.1", Transport: "http"}
	if err := s.AddAudit(ctx, full); err != nil {
		t.Fatal(err)
	}
	// Later events get ids (time-ordered) and times from the store; several in one call.
	var evs []*store.AuditEvent
	for i := range 5 {
		key := "k1"
		if i%2 == 1 {
			key = "k2"
		}
		if i == 4 {
			key = "" // a policy change names no key
		}
		evs = append(evs, &store.AuditEvent{Action: fmt.Sprintf("a%d", i), KeyID: key})
		// ULIDs of one millisecond are not ordered among themselves.
		time.Sleep(2 * time.Millisecond)
		if err := s.AddAudit(ctx, evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now().Add(-time.Minute)
	for _, ev := range evs {
		if ev.ID == "" || ev.Time.Before(before) {
			t.Fatalf("stored event %+v has no id or time", ev)
		}
	}
	ids := func(evs []*store.AuditEvent) []string {
		out := make([]string, len(evs))
		for i, ev := range evs {
			out[i] = ev.ID
		}
		return out
	}
	all, err := s.ListAudit(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{evs[4].ID, evs[3].ID, evs[2].ID, evs[1].ID, evs[0].ID, full.ID}
	if !reflect.DeepEqual(ids(all), want) {
		t.Fatalf("all events = %v, want newest first %v", ids(all), want)
	}
	if !reflect.DeepEqual(all[5], full) {
		t.Errorf("round trip:\n got %+v\nwant %+v", all[5], full)
	}
	if !all[0].Time.Equal(evs[4].Time) {
		t.Errorf("stored time %v, read back %v", evs[4].Time, all[0].Time)
	}
	cases := []struct {
		key   string
		limit int
		want  []string
	}{
		{"", 2, []string{evs[4].ID, evs[3].ID}},
		{"k1", 0, []string{evs[2].ID, evs[0].ID, full.ID}},
		{"k1", 2, []string{evs[2].ID, evs[0].ID}},
		{"k2", 10, []string{evs[3].ID, evs[1].ID}},
		{"k3", 10, nil},
	}
	for _, c := range cases {
		got, err := s.ListAudit(ctx, c.key, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ids(got), c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("ListAudit(%q, %d) = %v, want %v", c.key, c.limit, ids(got), c.want)
		}
	}

	// A limit of 0 or less means 100; a batch is one call.
	batch := make([]*store.AuditEvent, 120)
	for i := range batch {
		batch[i] = &store.AuditEvent{ID: fmt.Sprintf("01jzzzzzzzzzzzzzzzzzzzz%03d", i), Time: t0, Action: "denied", KeyID: "k9"}
	}
	if err := s.AddAudit(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, -1} {
		got, err := s.ListAudit(ctx, "k9", limit)
		if err != nil || len(got) != 100 || got[0].ID != batch[119].ID {
			t.Fatalf("ListAudit(k9, %d) = %d events, %v", limit, len(got), err)
		}
	}
	if got, _ := s.ListAudit(ctx, "k9", 500); len(got) != 120 {
		t.Errorf("ListAudit(k9, 500) = %d events, want 120", len(got))
	}
	if s.AuthEpoch() != epoch {
		t.Errorf("the audit trail moved the auth epoch from %d to %d", epoch, s.AuthEpoch())
	}
}
