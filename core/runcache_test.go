package core

import (
	"errors"
	"slices"
	"testing"
)

func TestRunCacheLoadsOncePerEpoch(t *testing.T) {
	var c runCache
	loads := 0
	get := func(epoch uint64, key string) ([]string, error) {
		e, err := cachedLoad(&c, epoch, func(c *runCache) *map[string]cachedEnv { return &c.env }, key, func() (cachedEnv, error) {
			loads++
			if key == "bad" {
				return cachedEnv{}, errors.New("store down")
			}
			s := make([]string, 1, 8)
			s[0] = key
			return cachedEnv{secrets: s[:1:1]}, nil
		})
		return e.secrets, err
	}
	for _, c := range []struct {
		epoch     uint64
		key       string
		wantLoads int
	}{
		{1, "a", 1}, {1, "a", 1}, // warm
		{1, "b", 2},                  // another key
		{2, "a", 3},                  // the epoch moved: read afresh
		{1, "a", 4},                  // an epoch older than the cache's: read, not kept
		{2, "a", 4},                  // the cache still holds epoch 2's entry
		{2, "bad", 5}, {2, "bad", 6}, // errors are not kept
	} {
		got, err := get(c.epoch, c.key)
		if loads != c.wantLoads {
			t.Fatalf("epoch %d key %s: %d loads, want %d", c.epoch, c.key, loads, c.wantLoads)
		}
		if c.key != "bad" && (err != nil || !slices.Equal(got, []string{c.key})) {
			t.Fatalf("epoch %d key %s: %v %v", c.epoch, c.key, got, err)
		}
	}
	// A run appending its own secrets never writes into the cached list.
	s, _ := get(2, "a")
	_ = append(s, "run's own")
	if again, _ := get(2, "a"); len(again) != 1 || cap(again) != 1 {
		t.Fatalf("cached secrets changed: %v (cap %d)", again, cap(again))
	}
}
