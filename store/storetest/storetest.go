// Package storetest is the storage conformance suite: the contract of the interfaces in
// package store, run against every backend (store/bolt and store/postgres each call Run
// from a test). A behaviour a use case relies on belongs here, not in one backend's tests.
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

// Opener returns a new, empty store; the backend closes it when t ends.
type Opener func(t *testing.T) store.Store

// suite is one domain's part of the contract.
type suite struct {
	name string
	run  func(t *testing.T, open Opener)
}

// suites lists every domain, in the order store.Store embeds them.
var suites = []suite{
	{"Users", testUsers},
	{"Sessions", testSessions},
	{"Orgs", testOrgs},
	{"Workspaces", testWorkspaces},
	{"Workflows", testWorkflows},
	{"Keys", testKeys},
	{"Audit", testAudit},
	{"Invitations", testInvitations},
	{"MCPServers", testMCPServers},
	{"EnvVars", testEnvVars},
	{"ConfigEpoch", testConfigEpoch},
	{"Providers", testProviders},
	{"Conversations", testConversations},
	{"ExternalMCP", testExternalMCP},
	{"Schedules", testSchedules},
	{"PausedRuns", testPausedRuns},
	{"OAuth", testOAuth},
	{"Logs", testLogs},
}

// Run runs the whole suite against the backend open returns.
func Run(t *testing.T, open Opener) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) { s.run(t, open) })
	}
}

// ctx is the context every call of the suite uses.
var ctx = context.Background()

// t0 is a fixed instant the suite's records are dated from (UTC, whole microseconds:
// PostgreSQL keeps microseconds, so times compare equal after a round trip).
var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// race runs n calls of fn at once and returns their errors by index.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWins races n calls of try (race) and reports on t unless exactly one returns nil and
// every other an error wrapping lose: n callers racing a uniqueness rule, a claim or an
// invariant that only one of them can keep.
func oneWins(t *testing.T, what string, n int, lose error, try func(i int) error) {
	t.Helper()
	won := 0
	for i, err := range race(n, try) {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, lose):
			t.Errorf("%s, call %d: err = %v, want nil or %v", what, i, err, lose)
		}
	}
	if won != 1 {
		t.Errorf("%s: %d of %d calls succeeded, want exactly 1", what, won, n)
	}
}
