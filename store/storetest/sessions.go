package storetest

import "testing"

func testSessions(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
