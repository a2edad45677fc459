package storetest

import "testing"

func testAudit(t *testing.T, open Opener) {
	t.Skip("not written yet")
}
