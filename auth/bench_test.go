package auth

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func benchWorld(b *testing.B) (*testEnv, string, Target) {
	e := newEnv(b)
	ctx := context.Background()
	u := e.user(b, "bench@x.io")
	org := &store.Org{Name: "o"}
	e.must(b, e.st.CreateOrg(ctx, org, u.ID))
	ws := e.workspace(b, "w", u.ID, org.ID)
	wf := e.workflow(b, ws.ID, "f")
	key, _ := e.key(b, CreateKeyRequest{Type: store.KeyOrganization, OrgID: org.ID, Grants: []store.Grant{{TargetType: store.TargetWorkflow, TargetID: wf.ID, Level: store.LevelWrite}}})
	return e, key, WorkflowTarget(wf.ID)
}

// BenchmarkResolveAuthorize is the per-request auth cost with warm caches.
func BenchmarkResolveAuthorize(b *testing.B) {
	e, key, target := benchWorld(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := e.r.Resolve(ctx, key, "127.0.0.1", TransportHTTP)
			if err != nil {
				b.Fatal(err)
			}
			if err := e.az.Authorize(ctx, p, target, store.LevelWrite); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkResolveAuthorizeCold drops both caches before every request, as after a
// write that moved the auth epoch.
func BenchmarkResolveAuthorizeCold(b *testing.B) {
	e, key, target := benchWorld(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.r.mu.Lock()
		clear(e.r.cache)
		e.r.mu.Unlock()
		e.az.mu.Lock()
		clear(e.az.cache)
		e.az.mu.Unlock()
		p, err := e.r.Resolve(ctx, key, "127.0.0.1", TransportHTTP)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.az.Authorize(ctx, p, target, store.LevelWrite); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNoEarlyExitOnPartialMatch checks that a key sharing all but its last random
// character with a real key costs the same as an unrelated key: lookup goes by HMAC
// digest, so how much of the secret matched cannot show in the timing.
func TestNoEarlyExitOnPartialMatch(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	e := newEnv(t)
	ctx := context.Background()
	u := e.user(t, "t@x.io")
	real, _ := e.key(t, CreateKeyRequest{Type: store.KeyPersonal, UserID: u.ID})
	body := []byte(real[len(KeyPrefix) : len(KeyPrefix)+randomLen])
	body[randomLen-1] = map[bool]byte{true: 'b', false: 'a'}[body[randomLen-1] == 'a']
	near := KeyPrefix + string(body) + checksum(body)
	far, _ := NewKey()
	median := func(key string) time.Duration {
		ds := make([]time.Duration, 0, 3001)
		for range 3001 {
			start := time.Now()
			_, err := e.r.Resolve(ctx, key, "127.0.0.1", TransportHTTP)
			ds = append(ds, time.Since(start))
			if err == nil {
				t.Fatal("resolved a wrong key")
			}
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	median(far) // warm
	n, f := median(near), median(far)
	ratio := float64(n) / float64(f)
	t.Logf("near-miss %v, unrelated %v, ratio %.2f", n, f, ratio)
	if ratio > 3 || ratio < 1.0/3 {
		t.Fatalf("near-miss and unrelated keys differ in cost: %v vs %v", n, f)
	}
}
